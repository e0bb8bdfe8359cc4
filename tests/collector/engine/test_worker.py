"""The sweep worker in the collector app: records sent by an agent over the real API are
evaluated by the dirty-case job, and only the touched case is evaluated."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from collector.app import create_app
from collector.clock import SHANGHAI
from collector.settings import CollectorSettings
from collector.store.tables import case_clocks
from collector.store.timestamps import utc_now
from tests.collector.conftest import AgentSide, new_token
from tests.collector.engine.records import checked, sl

# Accepted an hour ago: the worker evaluates at "now", so the case is running whatever the date.
ACCEPTED = (utc_now() - timedelta(hours=1)).astimezone(SHANGHAI).isoformat(timespec="seconds")


def test_records_from_an_agent_are_evaluated_by_the_worker(
    settings: CollectorSettings, engine: Engine
) -> None:
    enabled = replace(settings, engine_dirty_seconds=3600, engine_full_sweep_minutes=600)
    with TestClient(create_app(enabled)) as client:
        worker = client.app.state.engine_worker  # type: ignore[attr-defined]
        assert worker is not None
        assert {job.id for job in worker.scheduler.get_jobs()} == {"engine-dirty", "engine-full"}
        agent = AgentSide(client)
        assert agent.enrol(new_token(engine)).status_code == 200
        first = checked({**sl("W-1", ACCEPTED), "BMBM": agent.department})
        second = checked({**sl("W-2", ACCEPTED), "BMBM": agent.department})
        agent.verified_receipt(agent.send([(1, first), (2, second)]))
        assert worker.run("dirty").cases == 2
        third = checked({**sl("W-1", ACCEPTED, SJBBH=2), "BMBM": agent.department})
        agent.verified_receipt(agent.send([(3, third)]))
        touched = worker.run("dirty")
        assert touched.cases == 1
    with engine.connect() as conn:
        states = dict(conn.execute(select(case_clocks.c.sblsh, case_clocks.c.state)).all())
    assert states == {"W-1": "running", "W-2": "running"}


def test_no_worker_unless_enabled(settings: CollectorSettings, engine: Engine) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.app.state.engine_worker is None  # type: ignore[attr-defined]
