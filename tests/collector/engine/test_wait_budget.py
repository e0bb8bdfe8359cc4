"""An agent cannot defer its department's cards forever by alternating "caught up" and "behind".

Each "behind" report after a "caught up" one starts a new run; every run counts against one
budget: at most the grace window (24 h by default) of waiting within any 24 h + grace. The
reports go through the same bookkeeping the batch and heartbeat routes use
(:func:`collector.store.backlog.record_backlog`), with the collector's times of 30 simulated
hours; the first batch goes through the real HTTP ingest. SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from collector.cli import main
from collector.engine.catching_up import departments_catching_up
from collector.engine.sweep import run_sweep
from collector.store.backlog import record_backlog
from collector.store.tables import agents, backlog_waits
from collector.store.timestamps import utc_now
from exchange_spec import protocol
from tests.collector.conftest import AgentSide, new_token
from tests.collector.engine.conftest import kinds_of
from tests.collector.engine.records import DEPT, sl

SLSJ = "2026-09-24T10:00:00+08:00"  # long overdue: a red card is due
BEHIND = protocol.Backlog(records=1, capturing=False)
CAUGHT_UP = protocol.Backlog(records=0, capturing=False)
GRACE = 24  # hours, the default rules


def _agent(client: Any, engine: Engine) -> AgentSide:
    side = AgentSide(client)
    assert side.enrol(new_token(engine, DEPT)).status_code == 200
    return side


def _report(engine: Engine, agent: AgentSide, backlog: protocol.Backlog, at: datetime) -> None:
    """A heartbeat received at ``at``: the agent is alive (not silent) and says ``backlog``."""
    with engine.begin() as conn:
        record_backlog(conn, agent.agent_id, backlog, reported_at=at, now=at)
        conn.execute(agents.update().values(last_heartbeat_at=at))


def _waiting(engine: Engine, at: datetime) -> bool:
    with engine.connect() as conn:
        return DEPT in departments_catching_up(conn, at, GRACE)


def test_alternating_reports_do_not_renew_the_grace(client: Any, store_engine: Engine) -> None:
    agent = _agent(client, store_engine)
    agent.verified_receipt(agent.send([(1, sl("ALT-1", SLSJ))], backlog=BEHIND))
    start = utc_now() + timedelta(minutes=1)

    # Every 10 minutes: "caught up", then "behind" again a minute later, for 30 hours.
    granted: list[float] = []
    for step in range(1, 30 * 6):
        at = start + timedelta(minutes=10 * step)
        _report(store_engine, agent, CAUGHT_UP, at - timedelta(minutes=1))
        _report(store_engine, agent, BEHIND, at)
        if _waiting(store_engine, at + timedelta(seconds=30)):
            granted.append((at - start).total_seconds() / 3600)

    # 9 of every 10 minutes reported behind: the 24 hours of waiting are spent after about
    # 26.7 hours, and a fresh "behind" report does not bring the wait back.
    assert granted and max(granted) < 27
    assert not _waiting(store_engine, start + timedelta(hours=30))
    result = run_sweep(store_engine, mode="dirty", workers=1, at=start + timedelta(hours=30))
    assert result.cases == 1 and not result.waiting_for
    assert {k for k, _ in kinds_of(store_engine, "ALT-1")} >= {"red"}
    with store_engine.connect() as conn:  # each run is kept for the bureau
        runs = conn.execute(select(func.count()).select_from(backlog_waits)).scalar_one()
    assert runs == 30 * 6


def test_the_budget_comes_back_after_24_hours_of_being_judged(
    client: Any, store_engine: Engine
) -> None:
    """An honest agent behind now and then keeps its wait: the budget is spent only by time
    reported behind, and runs older than 24 h + grace no longer count."""
    agent = _agent(client, store_engine)
    _report(store_engine, agent, CAUGHT_UP, utc_now())
    start = utc_now() + timedelta(minutes=1)
    _report(store_engine, agent, BEHIND, start)
    assert _waiting(store_engine, start + timedelta(hours=23))
    assert not _waiting(store_engine, start + timedelta(hours=24, minutes=1))  # one long run
    _report(store_engine, agent, CAUGHT_UP, start + timedelta(hours=25))
    _report(store_engine, agent, BEHIND, start + timedelta(hours=26))
    assert not _waiting(store_engine, start + timedelta(hours=26, minutes=1))  # spent
    _report(store_engine, agent, CAUGHT_UP, start + timedelta(hours=27))
    later = start + timedelta(hours=75)  # the 25-hour run left the 48-hour window
    _report(store_engine, agent, BEHIND, later)
    assert _waiting(store_engine, later + timedelta(hours=1))


def test_the_bureau_sees_every_wait(client: Any, store_engine: Engine, store_url: str) -> None:
    agent = _agent(client, store_engine)
    agent.verified_receipt(agent.send([(1, sl("V-1", SLSJ))], backlog=BEHIND))
    assert agent.heartbeat({"outbox_pending": 0, "capturing": False}).status_code == 200
    assert agent.heartbeat({"outbox_pending": 3, "capturing": True}).status_code == 200

    result = CliRunner().invoke(main, ["departments", "waits", "--json", "--store", store_url])
    assert result.exit_code == 0, result.output
    [department] = json.loads(result.stdout)
    assert department["department"] == DEPT and department["waiting_now"] is True
    assert [r["ended_at"] is None for r in department["runs"]] == [False, True]
    text = CliRunner().invoke(main, ["departments", "waits", "--store", store_url]).stdout
    assert "现正等待其补传" in text and "仍在补传" in text and "上限 24 小时" in text


def test_re_enrolling_does_not_bring_back_the_wait(client: Any, store_engine: Engine) -> None:
    """The old agent's wait ends when it is revoked (a plain token replaces it) and stays
    counted: a new agent for the department starts with what is left of the budget."""
    old = _agent(client, store_engine)
    old.verified_receipt(old.send([(1, sl("REN-1", SLSJ))], backlog=BEHIND))
    start = utc_now() + timedelta(minutes=1)
    _report(store_engine, old, BEHIND, start)
    new = _agent(client, store_engine)  # revokes the old agent
    with store_engine.connect() as conn:
        open_runs = conn.execute(
            select(func.count())
            .select_from(backlog_waits)
            .where(backlog_waits.c.agent_id == old.agent_id, backlog_waits.c.ended_at.is_(None))
        ).scalar_one()
    assert open_runs == 0
    # The old agent's wait was 23 h by the time the new one says it is behind.
    with store_engine.begin() as conn:
        conn.execute(
            backlog_waits.update()
            .where(backlog_waits.c.agent_id == old.agent_id)
            .values(started_at=start - timedelta(hours=23), ended_at=start)
        )
    _report(store_engine, new, BEHIND, start + timedelta(minutes=1))
    assert _waiting(store_engine, start + timedelta(minutes=30))
    assert not _waiting(store_engine, start + timedelta(hours=2))
