"""The running collector app opens matters for new cards, with the settings' reply window;
after shutdown it no longer listens."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collector.app import create_app
from collector.engine.calendar_store import ensure_seeded
from collector.engine.events import notify_new_verdicts
from collector.settings import CollectorSettings
from collector.supervision import list_matters

from .helpers import verdict


def test_the_app_opens_matters_while_it_runs(engine: Engine, settings: CollectorSettings) -> None:
    ensure_seeded(engine)
    app = create_app(CollectorSettings(**{**vars(settings), "supervision_reply_workdays": 3}))
    with TestClient(app), engine.begin() as conn:
        notify_new_verdicts(conn, [verdict(1)])  # type: ignore[list-item]
    with engine.begin() as conn:
        notify_new_verdicts(conn, [verdict(2, case_id="C2")])  # type: ignore[list-item]
    with engine.connect() as conn:
        matters = list_matters(conn)
    assert [(m.verdict_id, m.due_reply_by) for m in matters] == [("1", date(2026, 10, 10))]
