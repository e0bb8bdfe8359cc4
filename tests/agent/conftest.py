"""Fixtures of the agent's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collector.app import create_app
from collector.settings import CollectorSettings
from collector.store.engine import make_engine
from collector.store.migrate import upgrade


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[TestClient, Engine]]:
    """The real collector app in process (its TestClient is an httpx.Client, so the agent's
    code runs unchanged) and its store's engine."""
    settings = CollectorSettings(
        data_dir=tmp_path / "collector", store_url=f"sqlite:///{tmp_path / 'collector.db'}"
    )
    engine = make_engine(settings.resolved_store_url)
    upgrade(engine)
    with TestClient(create_app(settings)) as client:
        yield client, engine
    engine.dispose()
