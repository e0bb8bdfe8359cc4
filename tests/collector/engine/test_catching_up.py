"""While an agent sends its backlog, the engine waits before judging its department.

An agent catching up delivers a case's acceptance (SL) in one batch and its completion (BJ) in
a later one. Judged in between, a case completed on time looks overdue and gets a red card that
is never silently withdrawn. Each batch and heartbeat says whether more is coming; these tests
drive the real HTTP ingest and the real sweep on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select

from collector.engine.case_view import case_view, render_text
from collector.engine.rules_file import load_rules
from collector.engine.sweep import run_sweep
from collector.store.overview import agents_overview
from collector.store.tables import agents, case_clocks, engine_dirty_cases
from collector.store.timestamps import utc_now
from exchange_spec import protocol
from tests.collector.conftest import AgentSide, new_token
from tests.collector.engine.conftest import kinds_of
from tests.collector.engine.records import DEPT, bj, sl

# Accepted 2026-09-24 with 10 promised / 20 legal working days: long overdue by now unless
# completed; completed 2026-10-09, well within both limits.
SLSJ = "2026-09-24T10:00:00+08:00"
BJSJ = "2026-10-09T16:00:00+08:00"
BEHIND = protocol.Backlog(records=1, capturing=False)
CAUGHT_UP = protocol.Backlog(records=0, capturing=False)


def _agent(client: object, engine: Engine) -> AgentSide:
    side = AgentSide(client)  # type: ignore[arg-type]
    assert side.enrol(new_token(engine, DEPT)).status_code == 200
    return side


def _cards(engine: Engine, sblsh: str) -> set[str]:
    return {kind for kind, _ in kinds_of(engine, sblsh) if kind in ("warning", "yellow", "red")}


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_a_case_completed_in_a_later_batch_gets_no_card_while_its_agent_catches_up(
    client: object, store_engine: Engine
) -> None:
    agent = _agent(client, store_engine)
    agent.verified_receipt(agent.send([(1, sl("A-1", SLSJ)), (2, sl("B-1", SLSJ))], backlog=BEHIND))

    waiting = run_sweep(store_engine, mode="dirty", workers=1)
    assert waiting.cases == 0
    assert list(waiting.waiting_for) == [DEPT]
    assert "still sending its backlog" in waiting.summary()
    assert _cards(store_engine, "A-1") == set() and _cards(store_engine, "B-1") == set()
    assert _count(store_engine, engine_dirty_cases) == 2  # kept for after the catch-up

    agent.verified_receipt(agent.send([(3, bj("A-1", BJSJ))], backlog=CAUGHT_UP))
    judged = run_sweep(store_engine, mode="dirty", workers=1)
    assert judged.cases == 2 and not judged.waiting_for
    assert _cards(store_engine, "A-1") == set()  # completed on time: no card at all
    assert _cards(store_engine, "B-1") == {"red"}  # never completed: red, once
    assert _count(store_engine, engine_dirty_cases) == 0


def test_the_full_sweep_waits_too_and_a_heartbeat_ends_the_wait(
    client: object, store_engine: Engine
) -> None:
    agent = _agent(client, store_engine)
    agent.verified_receipt(agent.send([(1, sl("F-1", SLSJ))], backlog=BEHIND))

    waiting = run_sweep(store_engine, mode="full", workers=1)
    assert waiting.cases == 0 and list(waiting.waiting_for) == [DEPT]
    with store_engine.connect() as conn:
        assert conn.execute(select(case_clocks.c.sblsh)).all() == []

    # The agent's outbox emptied without another batch: its heartbeat says so.
    assert agent.heartbeat({"outbox_pending": 0, "capturing": False}).status_code == 200
    judged = run_sweep(store_engine, mode="full", workers=1)
    assert judged.cases == 1
    assert _cards(store_engine, "F-1") == {"red"}


def test_a_heartbeat_with_records_still_in_the_outbox_makes_the_department_wait(
    client: object, store_engine: Engine
) -> None:
    agent = _agent(client, store_engine)
    agent.verified_receipt(agent.send([(1, sl("H-1", SLSJ))], backlog=CAUGHT_UP))
    # Its pushes fail (say the network), but its heartbeats get through.
    assert agent.heartbeat({"outbox_pending": 40, "capturing": False}).status_code == 200
    assert run_sweep(store_engine, mode="dirty", workers=1).cases == 0
    with store_engine.connect() as conn:
        rows = agents_overview(conn, now=utc_now())
    assert [(r.backlog_records, r.behind_since is not None) for r in rows] == [(40, True)]


def test_an_explicit_case_is_put_off_and_marked_for_later(
    client: object, store_engine: Engine
) -> None:
    agent = _agent(client, store_engine)
    agent.verified_receipt(agent.send([(1, sl("X-1", SLSJ))], backlog=BEHIND))
    with store_engine.begin() as conn:
        conn.execute(engine_dirty_cases.delete())

    # Cases named by an operator go through the same check when their records are read.
    result = run_sweep(store_engine, mode="cases", cases=["X-1"], workers=1)
    assert result.cases == 0 and result.deferred == 1
    assert "1 cases put off" in result.summary()
    assert _cards(store_engine, "X-1") == set()
    with store_engine.connect() as conn:
        marks = conn.execute(select(engine_dirty_cases.c.sblsh, engine_dirty_cases.c.department))
        assert marks.all() == [("X-1", DEPT)]


def test_an_agent_behind_for_longer_than_the_grace_window_no_longer_holds_cards_back(
    client: object, store_engine: Engine
) -> None:
    agent = _agent(client, store_engine)
    agent.verified_receipt(agent.send([(1, sl("G-1", SLSJ))], backlog=BEHIND))
    # Behind for 25 hours and still heartbeating (so not silent); the default rules give
    # 24 hours ([clock] silence_grace_hours).
    with store_engine.begin() as conn:
        conn.execute(agents.update().values(behind_since=utc_now() - timedelta(hours=25)))
    result = run_sweep(store_engine, mode="dirty", workers=1)
    assert result.cases == 1 and not result.waiting_for
    assert _cards(store_engine, "G-1") == {"red"}


def test_an_older_report_arriving_late_does_not_undo_a_newer_one(
    client: object, store_engine: Engine
) -> None:
    agent = _agent(client, store_engine)
    agent.verified_receipt(agent.send([(1, sl("O-1", SLSJ))], backlog=CAUGHT_UP))
    # A heartbeat built a minute before that batch, delivered after it.
    before = (utc_now() - timedelta(minutes=1)).isoformat(timespec="milliseconds")
    answer = agent.heartbeat({"outbox_pending": 1, "capturing": False}, created_at=before)
    assert answer.status_code == 200
    with store_engine.connect() as conn:
        assert conn.execute(select(agents.c.behind_since)).scalar_one() is None
    assert run_sweep(store_engine, mode="dirty", workers=1).cases == 1


def test_an_agent_that_sends_no_backlog_is_judged_at_once(
    client: object, store_engine: Engine
) -> None:
    agent = _agent(client, store_engine)  # an agent from before the backlog field
    agent.verified_receipt(agent.send([(1, sl("N-1", SLSJ))]))
    assert run_sweep(store_engine, mode="dirty", workers=1).cases == 1
    assert _cards(store_engine, "N-1") == {"red"}


def test_a_malformed_backlog_refuses_the_batch_with_a_clear_reason(
    client: object, store_engine: Engine
) -> None:
    agent = _agent(client, store_engine)
    envelope = agent.batch([(1, sl("M-1", SLSJ))])
    envelope["manifest"]["backlog"] = {"records": "many", "capturing": False}
    envelope["signature"] = protocol.sign(agent.key, envelope["manifest"])
    response = agent.post("/api/v1/batches", envelope)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "malformed"
    assert "backlog must be" in body["message_en"] and "backlog" in body["message_zh"]
    with store_engine.connect() as conn:
        assert conn.execute(select(agents.c.backlog_records)).scalar_one() is None


def test_case_show_says_the_case_waits_for_its_agent(client: object, store_engine: Engine) -> None:
    agent = _agent(client, store_engine)
    agent.verified_receipt(agent.send([(1, sl("S-1", SLSJ))], backlog=protocol.Backlog(7, True)))
    view = case_view(store_engine, "S-1", load_rules(None), utc_now())
    assert view["waiting_for_backlog"]["records"] == 7
    text = render_text(view)
    assert "still sending its backlog: 7 records to come" in text and "补传" in text

    assert agent.heartbeat({"outbox_pending": 0, "capturing": False}).status_code == 200
    caught_up = case_view(store_engine, "S-1", load_rules(None), utc_now())
    assert caught_up["waiting_for_backlog"] is None
