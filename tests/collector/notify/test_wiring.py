"""The app refuses a bad notifications file at start, and listens to new verdicts only while
it runs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collector.app import create_app
from collector.engine import events
from collector.notify import NotifyConfigError
from collector.settings import CollectorSettings


def test_a_link_in_an_sms_template_stops_the_app_at_start(
    tmp_path: Path, settings: CollectorSettings, engine: Engine
) -> None:
    templates = tmp_path / "templates.toml"
    templates.write_text('[sms.red]\ntext = "详见 www.example.gov.cn"\n', encoding="utf-8")
    notify = tmp_path / "notify.toml"
    notify.write_text('templates_file = "templates.toml"\n', encoding="utf-8")
    with pytest.raises(NotifyConfigError, match=r"\[sms\.red\].*链接"):
        create_app(replace(settings, notify_config=notify))


def test_the_app_subscribes_while_running_and_unsubscribes_on_stop(
    tmp_path: Path, settings: CollectorSettings, engine: Engine
) -> None:
    notify = tmp_path / "notify.toml"
    notify.write_text("[hours]\ndaily_cap = 5\n", encoding="utf-8")

    def ours() -> list[str]:
        return [
            f.__name__ for f in events._listeners if f.__module__ == "collector.notify.subscription"
        ]

    assert ours() == []
    app = create_app(replace(settings, notify_config=notify))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert ours() == ["enqueue_new_verdicts"]
    assert ours() == []
