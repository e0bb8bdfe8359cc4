"""Engine fixtures: the store fixtures of tests/collector/conftest.py (SQLite and PostgreSQL),
with the catalogue item every test case uses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from collector.engine.events import VerdictRow, on_new_verdicts, remove_listener
from collector.store.tables import verdicts
from tests.collector.engine.records import store, sx


@pytest.fixture
def store_engine(engine: Engine) -> Engine:
    store(engine, [sx()])
    return engine


@pytest.fixture
def heard() -> Iterator[list[VerdictRow]]:
    rows: list[VerdictRow] = []

    def listener(_conn: Any, new: list[VerdictRow]) -> None:
        rows.extend(new)

    on_new_verdicts(listener)
    yield rows
    remove_listener(listener)


def kinds_of(engine: Engine, sblsh: str) -> set[tuple[str, str]]:
    """(kind, code) of every stored verdict of a case."""
    with engine.connect() as conn:
        return {
            (r.kind, r.code)
            for r in conn.execute(
                select(verdicts.c.kind, verdicts.c.code).where(verdicts.c.sblsh == sblsh)
            )
        }
