"""One sweep at a time across processes, evaluation of only the cases an ingest touched, data
silence, exemptions and reassessment after a calendar import; SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, timedelta
from pathlib import Path

from sqlalchemy import Engine, select, update

from collector.engine import calendar_store, reassess
from collector.engine.lock import sweep_lock
from collector.engine.rules_file import parse_rules
from collector.engine.sweep import run_sweep
from collector.engine.verdict_view import list_verdicts
from collector.store.tables import agents, engine_locks, verdict_withdrawals
from collector.store.timestamps import utc_now
from tests.collector.engine.conftest import kinds_of
from tests.collector.engine.records import DEPT, at, bj, sl, store

SLSJ = "2026-09-24T10:00:00+08:00"


def test_a_sweep_started_while_another_holds_the_lock_skips(store_engine: Engine) -> None:
    store(store_engine, [sl("L-1", SLSJ)])
    holding = threading.Event()
    release = threading.Event()

    def other_process_sweeping() -> None:
        with sweep_lock(store_engine) as held:
            assert held
            holding.set()
            release.wait()

    other = threading.Thread(target=other_process_sweeping)
    other.start()
    try:
        assert holding.wait(30)
        skipped = run_sweep(store_engine, at=at("2026-10-10 09:00"))
        assert not skipped.ran
        assert "skipped" in skipped.summary()
    finally:
        release.set()
        other.join()
    ran = run_sweep(store_engine, at=at("2026-10-10 09:00"))
    assert ran.ran and ran.cases == 1


def test_two_sweeps_started_together_one_runs_one_skips(store_engine: Engine) -> None:
    store(store_engine, [sl("L-2", SLSJ)])
    barrier = threading.Barrier(2)
    results = []
    gate = threading.Event()

    def sweep() -> None:
        barrier.wait()
        with sweep_lock(store_engine) as held:
            results.append(bool(held))
            if held:
                # Keep the lock until the other thread has tried.
                gate.wait(30)
            else:
                gate.set()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True]


def test_an_expired_sqlite_lock_row_is_taken_over(store_engine: Engine) -> None:
    if store_engine.dialect.name != "sqlite":
        # PostgreSQL frees a dead holder's session lock itself; prove it by closing a session.
        conn = store_engine.connect()
        from sqlalchemy import text

        assert conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _pg_key()}).scalar()
        conn.commit()
        assert not run_sweep(store_engine, at=at("2026-10-10 09:00")).ran
        conn.close()
        conn.engine.dispose()
        assert run_sweep(store_engine, at=at("2026-10-10 09:00")).ran
        return
    with sweep_lock(store_engine) as held:
        assert held
        assert not run_sweep(store_engine, at=at("2026-10-10 09:00")).ran
        with store_engine.begin() as conn:
            conn.execute(update(engine_locks).values(expires_at=utc_now() - timedelta(minutes=1)))
        # A live holder renews its expiry per page: still held.
        held.renew()
        assert not run_sweep(store_engine, at=at("2026-10-10 09:00")).ran
        with store_engine.begin() as conn:
            conn.execute(update(engine_locks).values(expires_at=utc_now() - timedelta(minutes=1)))
        # The holder crashed long ago (its expiry passed): the next sweep runs.
        assert run_sweep(store_engine, at=at("2026-10-10 09:00")).ran


def _pg_key() -> int:
    import zlib

    from collector.engine import lock

    return lock._PG_SWEEP_LOCK ^ zlib.crc32(b"sweep")


def test_an_ingest_touching_one_case_re_evaluates_only_that_case(store_engine: Engine) -> None:
    for n in range(5):
        store(store_engine, [sl(f"D-{n}", SLSJ)], received_at=at("2026-09-24 11:00"))
    first = run_sweep(store_engine, mode="dirty", at=at("2026-09-24 12:00"))
    assert first.cases == 5
    assert run_sweep(store_engine, mode="dirty", at=at("2026-09-24 12:01")).cases == 0
    store(
        store_engine, [bj("D-3", "2026-09-25T10:00:00+08:00")], received_at=at("2026-09-25 11:00")
    )
    touched = run_sweep(store_engine, mode="dirty", at=at("2026-09-25 12:00"))
    assert touched.cases == 1


def test_a_silent_agent_suppresses_cards_for_the_grace_window(store_engine: Engine) -> None:
    store(store_engine, [sl("S-1", SLSJ)], received_at=at("2026-09-24 11:00"))
    with store_engine.begin() as conn:
        conn.execute(
            agents.insert().values(
                agent_id="ag-1",
                department=DEPT,
                public_key="x" * 43,
                key_id="k1",
                status="active",
                enrolled_at=at("2026-09-01 09:00").astimezone(UTC),
                last_heartbeat_at=at("2026-10-09 08:00").astimezone(UTC),
            )
        )
    # Silent since 10 Oct 08:00 (24 h without a heartbeat): no yellow within 24 h grace.
    result = run_sweep(store_engine, at=at("2026-10-10 09:00"))
    assert ("yellow", "") not in kinds_of(store_engine, "S-1")
    assert result.new["anomaly"] >= 1
    silence = [
        v for v in list_verdicts(store_engine, department=DEPT) if v["code"] == "data_silence"
    ]
    assert len(silence) == 1 and silence[0]["case_id"] == ""
    run_sweep(store_engine, at=at("2026-10-10 12:00"))
    assert len([v for v in list_verdicts(store_engine) if v["code"] == "data_silence"]) == 1
    # Grace over (11 Oct 08:00): the department's cards are issued again.
    run_sweep(store_engine, at=at("2026-10-11 09:00"))
    assert ("yellow", "") in kinds_of(store_engine, "S-1")


def test_an_exemption_suppresses_matching_verdicts_until_it_expires(store_engine: Engine) -> None:
    from collector.engine import exemptions

    store(store_engine, [sl("E-1", SLSJ)])
    exemptions.add(
        store_engine,
        sblsh="E-1",
        rule="yellow",
        reason="系统故障期间受理",
        approver="王局长",
        expires_on=at("2026-10-12 00:00").date(),
        actor="李四",
        today=at("2026-10-01 00:00").date(),
    )
    # The first evaluation is after the warning window: only the (exempted) yellow was due.
    run_sweep(store_engine, at=at("2026-10-12 09:00"))
    assert kinds_of(store_engine, "E-1") == set()
    run_sweep(store_engine, at=at("2026-10-13 09:00"))
    assert ("yellow", "") in kinds_of(store_engine, "E-1")


def test_a_calendar_import_proposes_withdrawing_a_yellow_no_longer_due(
    store_engine: Engine, tmp_path: Path
) -> None:
    # Accepted Mon 28 Dec 2026, 5 working days; 2027 has no data yet (weekends only):
    # 29, 30, 31 Dec, Fri 1 Jan, Mon 4 Jan -> deadline 4 Jan, yellow on 5 Jan (provisional).
    case = "R-1"
    store(store_engine, [sl(case, "2026-12-28T10:00:00+08:00", gdblsx=5)])
    run_sweep(store_engine, at=at("2027-01-05 09:00"))
    assert ("yellow", "") in kinds_of(store_engine, case)
    notice = tmp_path / "2027.toml"
    notice.write_text(
        'year = 2027\nreference = "测试通知 2027"\n\n[[holiday]]\nname = "元旦"\n'
        "from = 2027-01-01\nto = 2027-01-03\nwork = []\n",
        encoding="utf-8",
    )
    imported = calendar_store.import_notice(store_engine, notice, actor="张三")
    assert imported.version == 2
    # 1 Jan is a rest day now: deadline 5 Jan, so the yellow of 5 Jan was not due.
    result = run_sweep(store_engine, at=at("2027-01-05 10:00"))
    assert result.proposals == 1
    pending = reassess.list_proposals(store_engine)
    assert [(p.sblsh, p.kind, p.action) for p in pending] == [(case, "yellow", "withdraw")]
    assert pending[0].old_basis["promised_deadline"] == "2027-01-04"
    assert pending[0].new_basis["promised_deadline"] == "2027-01-05"
    # Nothing changes before a supervisor decides.
    assert not any(v["withdrawn"] for v in list_verdicts(store_engine, case=case))
    assert run_sweep(store_engine, at=at("2027-01-05 11:00")).proposals == 0
    reassess.decide(store_engine, pending[0].id, accept=True, by="李监察员", reason="元旦放假")
    listed = {v["kind"]: v for v in list_verdicts(store_engine, case=case)}
    assert listed["yellow"]["withdrawn"] is True
    with store_engine.connect() as conn:
        assert conn.execute(select(verdict_withdrawals.c.decided_by)).scalar() == "李监察员"
    # On 6 Jan the case is overdue under the new calendar: a new yellow, on the new basis.
    run_sweep(store_engine, at=at("2027-01-06 09:00"))
    yellows = [v for v in list_verdicts(store_engine, case=case) if v["kind"] == "yellow"]
    assert [(y["rule"], y["withdrawn"], y["calendar_version"]) for y in yellows] == [
        ("overdue", True, 1),
        ("overdue#2", False, 2),
    ]


def test_a_rejected_proposal_keeps_the_verdict_and_needs_a_reason(
    store_engine: Engine, tmp_path: Path
) -> None:
    import pytest

    from collector.engine.errors import EngineError

    store(store_engine, [sl("R-2", "2026-12-28T10:00:00+08:00", gdblsx=5)])
    run_sweep(store_engine, at=at("2027-01-05 09:00"))
    notice = tmp_path / "2027.toml"
    notice.write_text(
        'year = 2027\nreference = "测试"\n\n[[holiday]]\nname = "元旦"\n'
        "from = 2027-01-01\nto = 2027-01-03\nwork = []\n",
        encoding="utf-8",
    )
    calendar_store.import_notice(store_engine, notice, actor="张三")
    run_sweep(store_engine, at=at("2027-01-05 10:00"))
    proposal = reassess.list_proposals(store_engine)[0]
    with pytest.raises(EngineError, match="needs a reason"):
        reassess.decide(store_engine, proposal.id, accept=False, by="李", reason="")
    reassess.decide(store_engine, proposal.id, accept=False, by="李", reason="当日已电话督办")
    assert not any(v["withdrawn"] for v in list_verdicts(store_engine, case="R-2"))
    with pytest.raises(EngineError, match="already rejected"):
        reassess.decide(store_engine, proposal.id, accept=True, by="李", reason="")


def test_the_full_sweep_re_evaluates_only_cases_whose_day_has_come(store_engine: Engine) -> None:
    # Two cases accepted 24 Sep (warning day 8 Oct), one accepted 9 Oct (warning day 15 Oct).
    store(store_engine, [sl("F-1", SLSJ), sl("F-2", SLSJ)])
    store(store_engine, [sl("F-3", "2026-10-09T10:00:00+08:00")])
    assert run_sweep(store_engine, at=at("2026-10-09 12:00")).cases == 3
    # Same day: nothing can change by time alone.
    assert run_sweep(store_engine, at=at("2026-10-09 12:10")).cases == 0
    # 10 Oct: F-1 and F-2 turn yellow; F-3 waits for its warning day.
    yellow = run_sweep(store_engine, at=at("2026-10-10 09:00"))
    assert (yellow.cases, yellow.new["yellow"]) == (2, 2)
    # 15 Oct: F-3's warning day; F-1 and F-2's red-after-yellow day (window 12-14 Oct).
    later = run_sweep(store_engine, at=at("2026-10-15 09:00"))
    assert (later.cases, later.new["warning"], later.new["red"]) == (3, 1, 2)
    # A calendar or rules change brings every open case back.
    custom = parse_rules('version = "other-1"\n', "other.toml")
    assert run_sweep(store_engine, at=at("2026-10-15 09:10"), rules=custom).cases == 3
