"""The collector goes away (SIGKILL) while an agent is delivering, stays down for a while
and comes back: the agent catches up by itself, nothing is lost or doubled. Runs on the
embedded SQLite store and on PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .processes import collector_proc, free_port, wait_http, wait_until
from .scenario import CollectorStore, Department

CASES_FIRST = 1200
CASES_TOTAL = 1600


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'collector' / 'collector.db'}"
    db = request.getfixturevalue("pg_database")
    return str(db.sqlalchemy_url)


def test_agent_catches_up_after_collector_outage(tmp_path: Path, store_url: str) -> None:
    port = free_port()
    cdir = tmp_path / "collector"
    cdir.mkdir()
    url = f"http://127.0.0.1:{port}"
    collector = collector_proc(cdir, port, store_url).start()
    agent = None
    store = CollectorStore(store_url)
    try:
        wait_http(url + "/", 60, collector.log)
        dept = Department(tmp_path / "dept", url)
        dept.create(CASES_FIRST)
        dept.enrol(cdir, store_url)
        agent = dept.agent().start()
        wait_until(
            lambda: store.scalar("SELECT COUNT(*) FROM records_current") > 0,
            60,
            "the first records to arrive",
            agent.log,
        )
        collector.kill()
        dept.add_cases(CASES_FIRST + 1, CASES_TOTAL)  # the department works on meanwhile
        time.sleep(6)  # several failed pushes: the agent backs off and keeps everything
        assert agent.alive, agent.log.read_text()[-3000:]

        collector = collector_proc(cdir, port, store_url).start()
        wait_http(url + "/", 60, collector.log)
        expected = dept.expected_keys(CASES_TOTAL)
        wait_until(
            lambda: store.scalar("SELECT COUNT(*) FROM records_current") >= len(expected),
            180,
            "the agent to catch up after the outage",
            agent.log,
        )
        time.sleep(3)
        assert set(store.current_keys()) == expected
        assert len(store.version_keys()) == len(expected), "a record was stored twice"
        assert sorted(store.delivery_seqs()) == list(range(1, len(expected) + 1))
    finally:
        if agent is not None:
            agent.kill()
        collector.kill()
        store.close()
