"""Warning, yellow and red across the 2026 National Day holiday and Spring Festival, on
SQLite and PostgreSQL; idempotence; red suppresses yellow; listeners hear only new ones."""

from __future__ import annotations

from sqlalchemy import Engine, select

from collector.engine.events import VerdictRow
from collector.engine.sweep import run_sweep
from collector.store.tables import case_clocks, verdicts
from tests.collector.engine.conftest import kinds_of
from tests.collector.engine.records import at, bj, sl, store

CASE = "430700SCJ20260924001"


def deadline_kinds(engine: Engine, sblsh: str) -> set[str]:
    return {k for k, _ in kinds_of(engine, sblsh) if k != "anomaly"}


def test_national_day_case_warns_on_8_october_and_is_yellow_on_the_working_saturday(
    store_engine: Engine,
) -> None:
    # Accepted 24 Sep, 5 working days: 25 Sep (Mid-autumn rest) ... deadline Fri 9 Oct.
    store(store_engine, [sl(CASE, "2026-09-24T10:00:00+08:00", gdblsx=5)])
    run_sweep(store_engine, at=at("2026-10-07 12:00"))
    assert deadline_kinds(store_engine, CASE) == set()
    run_sweep(store_engine, at=at("2026-10-08 09:00"))
    assert deadline_kinds(store_engine, CASE) == {"warning"}
    run_sweep(store_engine, at=at("2026-10-09 18:00"))
    assert deadline_kinds(store_engine, CASE) == {"warning"}
    # 10 Oct is an adjusted working Saturday: the promised limit has passed.
    run_sweep(store_engine, at=at("2026-10-10 09:00"))
    assert deadline_kinds(store_engine, CASE) == {"warning", "yellow"}
    with store_engine.connect() as conn:
        clock = conn.execute(select(case_clocks).where(case_clocks.c.sblsh == CASE)).one()
    assert clock.promised_deadline.isoformat() == "2026-10-09"
    assert clock.state == "overdue"
    # Not corrected within 3 working days after the yellow day (12, 13, 14 Oct): red on 15.
    run_sweep(store_engine, at=at("2026-10-14 17:00"))
    assert deadline_kinds(store_engine, CASE) == {"warning", "yellow"}
    run_sweep(store_engine, at=at("2026-10-15 09:00"))
    assert deadline_kinds(store_engine, CASE) == {"warning", "yellow", "red"}


def test_completion_within_the_correction_window_prevents_red(store_engine: Engine) -> None:
    store(store_engine, [sl(CASE, "2026-09-24T10:00:00+08:00", gdblsx=5)])
    run_sweep(store_engine, at=at("2026-10-10 09:00"))
    store(store_engine, [bj(CASE, "2026-10-13T10:00:00+08:00")])
    run_sweep(store_engine, at=at("2026-10-20 09:00"), mode="cases", cases=[CASE])
    assert deadline_kinds(store_engine, CASE) == {"yellow"}


def test_spring_festival_pushes_the_deadline_past_the_holiday(store_engine: Engine) -> None:
    # Accepted Thu 12 Feb; 14 Feb (Sat) works, 15-23 Feb rest: day 5 is 26 Feb.
    case = "430700SCJ20260212001"
    store(store_engine, [sl(case, "2026-02-12T10:00:00+08:00", gdblsx=5)])
    run_sweep(store_engine, at=at("2026-02-23 12:00"))
    assert deadline_kinds(store_engine, case) == set()
    run_sweep(store_engine, at=at("2026-02-25 09:00"))
    with store_engine.connect() as conn:
        deadline = conn.execute(
            select(case_clocks.c.promised_deadline).where(case_clocks.c.sblsh == case)
        ).scalar()
    assert deadline.isoformat() == "2026-02-26"
    assert deadline_kinds(store_engine, case) == {"warning"}
    run_sweep(store_engine, at=at("2026-02-27 09:00"))
    assert deadline_kinds(store_engine, case) == {"warning", "yellow"}


def test_legal_limit_passed_gives_red_and_no_yellow_in_the_same_evaluation(
    store_engine: Engine, heard: list[VerdictRow]
) -> None:
    # Legal 20 working days from 24 Sep end 29 Oct; first evaluated long after both limits.
    store(store_engine, [sl(CASE, "2026-09-24T10:00:00+08:00", gdblsx=5)])
    result = run_sweep(store_engine, at=at("2026-11-02 09:00"))
    assert deadline_kinds(store_engine, CASE) == {"red"}
    assert result.new["red"] == 1 and result.new["yellow"] == 0
    assert [(r["kind"], r["case_id"]) for r in heard if r["kind"] == "red"] == [("red", CASE)]
    assert heard[0]["calendar_version"] == result.calendar_version
    assert heard[0]["dedup_key"] == f"{CASE}|overdue|red"


def test_running_the_sweep_twice_creates_nothing_new(
    store_engine: Engine, heard: list[VerdictRow]
) -> None:
    store(store_engine, [sl(CASE, "2026-09-24T10:00:00+08:00", gdblsx=5)])
    first = run_sweep(store_engine, at=at("2026-10-10 09:00"))
    heard_after_first = len(heard)
    second = run_sweep(store_engine, at=at("2026-10-10 09:05"))
    assert sum(first.new.values()) >= 1
    assert sum(second.new.values()) == 0
    assert len(heard) == heard_after_first
    with store_engine.connect() as conn:
        count = conn.execute(select(verdicts.c.id).where(verdicts.c.sblsh == CASE)).all()
    assert len(count) == sum(first.new.values())


def test_a_stored_verdict_cannot_be_updated(store_engine: Engine) -> None:
    import pytest
    from sqlalchemy.exc import DBAPIError

    store(store_engine, [sl(CASE, "2026-09-24T10:00:00+08:00", gdblsx=5)])
    run_sweep(store_engine, at=at("2026-10-10 09:00"))
    with pytest.raises(DBAPIError, match="immutable"):
        with store_engine.begin() as conn:
            conn.execute(verdicts.update().values(kind="warning"))
