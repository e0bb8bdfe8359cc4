"""A running case whose next approval step is still pending past its [engine.step_limits]
limit gets the step_limit yellow card, on the real 2026 calendar.

Accepted Thu 24 Sep 2026, step 1 承办 allowed 3 working days, no SPCL yet: 25-27 Sep are 中秋节,
28, 29, 30 Sep are working days 1-3, 1-7 Oct are 国庆节, Thu 8 Oct is working day 4 (the
calendar confirms it: `esup-collector calendar add-workdays 2026-09-24 4` prints 2026-10-08).
So the step is within its limit up to and including 7 Oct and over it from 8 Oct, the first
day on which more than 3 working days have passed, exactly as a step completed on 8 Oct would
count 4 working days and be flagged."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, select

from collector.clock import ItemLimits, WorkCalendar, evaluate, seed_rows, seed_years
from collector.engine.rules_file import EngineRules, parse_rules
from collector.engine.sweep import run_sweep
from collector.engine.verdicts import CaseContext, CaseInput, CaseRecord, evaluate_case
from collector.engine.verdicts.deadlines import pending_step
from collector.engine.verdicts.recheck import recheck_on
from collector.store.tables import case_clocks, verdicts
from tests.collector.engine.records import DEPT, at, bj, sl, spcl, store, sx, tbcxjg, tbcxsq

CALENDAR = WorkCalendar.from_rows(seed_rows(seed_years()), 1)
SLSJ = "2026-09-24T10:00:00+08:00"
RULES = parse_rules('version = "steps-1"\n[engine.step_limits]\n"1" = 3\n"2" = 2\n', "steps.toml")


def case_of(records: list[dict[str, Any]]) -> CaseInput:
    return CaseInput("P-STEP", DEPT, tuple(CaseRecord(r, at("2026-09-24 11:00")) for r in records))


def step_cards(
    records: list[dict[str, Any]], when: str, rules: EngineRules = RULES
) -> list[dict[str, Any]]:
    """The step_limit details due at ``when`` (Beijing time)."""
    moment = at(when)
    clock = evaluate(records, ItemLimits.from_sx(sx()), CALENDAR, rules.clock, moment)
    found = evaluate_case(case_of(records), clock, CALENDAR, rules, moment)
    return [step for c in found if c.rule == "step_limit" for step in c.details["steps"]]


def recheck(records: list[dict[str, Any]], when: str) -> date | None:
    moment = at(when)
    clock = evaluate(records, ItemLimits.from_sx(sx()), CALENDAR, RULES.clock, moment)
    return recheck_on(clock, RULES, CALENDAR, CaseContext(), moment.date(), case_of(records))


# A promise of 20 working days (deadline 27 Oct): no warning or overdue card gets in the way.
ACCEPTED = [sl("P-STEP", SLSJ, gdblsx=20)]


def test_the_calendar_facts_the_examples_rely_on() -> None:
    assert CALENDAR.add_workdays(date(2026, 9, 24), 3).date == date(2026, 9, 30)
    assert CALENDAR.add_workdays(date(2026, 9, 24), 4).date == date(2026, 10, 8)
    assert CALENDAR.is_workday(date(2026, 10, 8)) and CALENDAR.is_workday(date(2026, 10, 10))


@pytest.mark.parametrize("when", ["2026-09-30 18:00", "2026-10-01 10:00", "2026-10-07 18:00"])
def test_a_pending_first_step_within_its_limit_is_not_flagged(when: str) -> None:
    assert step_cards(ACCEPTED, when) == []


def test_a_pending_first_step_is_flagged_once_its_limit_has_passed() -> None:
    expected = {
        "SPHJDM": "1",
        "step": "承办",
        "pending": True,
        "since": "2026-09-24",
        "over_on": "2026-10-08",
        "took": 4,
        "limit": 3,
    }
    assert step_cards(ACCEPTED, "2026-10-08 09:00") == [expected]
    later = step_cards(ACCEPTED, "2026-10-09 09:00")
    assert [(s["SPHJDM"], s["pending"], s["took"]) for s in later] == [("1", True, 5)]


def test_the_pending_step_is_the_one_after_the_last_spcl_from_its_spsj() -> None:
    # 承办 done Mon 28 Sep (1 working day, within 3): 审核 (2 working days) runs from 28 Sep:
    # 29, 30 Sep are days 1-2, 8 Oct is day 3.
    records = [*ACCEPTED, spcl("P-STEP", 1, "1", "2026-09-28T15:00:00+08:00")]
    assert step_cards(records, "2026-10-07 18:00") == []
    steps = step_cards(records, "2026-10-08 09:00")
    assert [(s["SPHJDM"], s["step"], s["since"], s["took"]) for s in steps] == [
        ("2", "审核", "2026-09-28", 3)
    ]
    # After 批准 (step 3) nothing is pending; step 3 has no limit here anyway.
    done = [
        *records,
        spcl("P-STEP", 2, "2", "2026-09-29T15:00:00+08:00"),
        spcl("P-STEP", 3, "3", "2026-09-30T15:00:00+08:00"),
    ]
    assert step_cards(done, "2026-10-20 09:00") == []


def test_a_completed_case_is_never_flagged_for_a_pending_step() -> None:
    completed = [*ACCEPTED, bj("P-STEP", "2026-10-20T16:00:00+08:00")]
    for when in ("2026-10-08 09:00", "2026-10-20 17:00", "2026-12-01 09:00"):
        assert step_cards(completed, when) == []
    # A completed step that took too long is still flagged, as before (not as pending).
    slow = [*completed, spcl("P-STEP", 1, "1", "2026-10-09T15:00:00+08:00")]
    steps = step_cards(slow, "2026-12-01 09:00")
    assert [(s["SPHJDM"], s.get("pending"), s["took"]) for s in steps] == [("1", None, 5)]


def test_not_accepted_case_and_unconfigured_step_are_not_flagged() -> None:
    refused = [{**ACCEPTED[0], "SLZTDM": "4", "BSLYY": "申请人不具备主体资格"}]
    assert step_cards(refused, "2026-12-01 09:00") == []
    no_limits = parse_rules('version = "none-1"\n', "none.toml")
    assert step_cards(ACCEPTED, "2026-12-01 09:00", no_limits) == []


def test_suspended_days_do_not_count_against_the_pending_step() -> None:
    # Special procedure B from Mon 28 Sep to Wed 30 Sep suspends 29 and 30 Sep (the start day
    # counts, the end day does not): working days 28 Sep, 8 Oct, 9 Oct, then Sat 10 Oct (an
    # adjusted working day) is the 4th, the first over the limit of 3.
    records = [
        *ACCEPTED,
        tbcxsq("P-STEP", 1, "B", "2026-09-28T09:00:00+08:00", 3),
        tbcxjg("P-STEP", 1, "2026-09-30T17:00:00+08:00"),
    ]
    assert step_cards(records, "2026-10-09 18:00") == []
    steps = step_cards(records, "2026-10-10 09:00")
    assert [(s["over_on"], s["took"]) for s in steps] == [("2026-10-10", 4)]
    assert recheck(records, "2026-10-01 09:00") == date(2026, 10, 10)


def test_suspended_days_do_not_count_against_a_completed_step_either() -> None:
    # The same hearing (29 and 30 Sep suspended); step 1 reported done on Sat 10 Oct took
    # 28 Sep, 8, 9 and 10 Oct: 4 working days against its 3, so it is over. Reported on Fri
    # 9 Oct it took 3 (28 Sep, 8, 9 Oct): within. Without the hearing, 9 Oct would be 5.
    hearing = [
        tbcxsq("P-STEP", 1, "B", "2026-09-28T09:00:00+08:00", 3),
        tbcxjg("P-STEP", 1, "2026-09-30T17:00:00+08:00"),
    ]
    on_ninth = [*ACCEPTED, *hearing, spcl("P-STEP", 1, "1", "2026-10-09T16:00:00+08:00")]
    assert [s for s in step_cards(on_ninth, "2026-10-09 18:00") if not s.get("pending")] == []
    on_tenth = [*ACCEPTED, *hearing, spcl("P-STEP", 1, "1", "2026-10-10T16:00:00+08:00")]
    done = [s for s in step_cards(on_tenth, "2026-10-10 18:00") if not s.get("pending")]
    assert [(s["SPHJDM"], s["took"]) for s in done] == [("1", 4)]
    no_hearing = [*ACCEPTED, spcl("P-STEP", 1, "1", "2026-10-09T16:00:00+08:00")]
    done = [s for s in step_cards(no_hearing, "2026-10-09 18:00") if not s.get("pending")]
    assert [(s["SPHJDM"], s["took"]) for s in done] == [("1", 5)]


def test_pending_step_and_recheck_day() -> None:
    moment = at("2026-09-25 09:00")
    clock = evaluate(ACCEPTED, ItemLimits.from_sx(sx()), CALENDAR, RULES.clock, moment)
    pending = pending_step(case_of(ACCEPTED), clock, RULES, CALENDAR)
    assert pending is not None
    assert (pending.code, pending.since, pending.limit) == ("1", date(2026, 9, 24), 3)
    assert pending.over_on == date(2026, 10, 8)
    # The 20-day promise ends 29 Oct, its warning day is 28 Oct: the pending step comes first.
    assert recheck(ACCEPTED, "2026-09-25 09:00") == date(2026, 10, 8)
    assert recheck(ACCEPTED, "2026-10-07 09:00") == date(2026, 10, 8)
    # Once flagged, the next trigger is the warning day again.
    assert recheck(ACCEPTED, "2026-10-08 09:00") == date(2026, 10, 28)
    # 承办 done 30 Sep: 审核 is allowed 2 working days (8 and 9 Oct); the 3rd, the adjusted
    # working Saturday 10 Oct, is the first day over.
    stepped = [*ACCEPTED, spcl("P-STEP", 1, "1", "2026-09-30T15:00:00+08:00")]
    assert recheck(stepped, "2026-10-01 09:00") == date(2026, 10, 10)


def test_the_sweep_issues_the_pending_step_card_once(store_engine: Engine) -> None:
    case = "430700SCJ20260924009"
    store(store_engine, [sl(case, SLSJ, gdblsx=20)])
    run_sweep(store_engine, at=at("2026-09-25 09:00"), rules=RULES)
    with store_engine.connect() as conn:
        recheck_day = conn.execute(
            select(case_clocks.c.recheck_on).where(case_clocks.c.sblsh == case)
        ).scalar()
    assert recheck_day is not None and recheck_day <= date(2026, 10, 8)
    for when in ("2026-09-30 18:00", "2026-10-07 18:00"):
        run_sweep(store_engine, at=at(when), rules=RULES)
        assert step_rows(store_engine, case) == []
    for when in ("2026-10-08 09:00", "2026-10-08 15:00", "2026-10-09 09:00", "2026-10-12 09:00"):
        run_sweep(store_engine, at=at(when), rules=RULES)
        rows = step_rows(store_engine, case)
        assert len(rows) == 1, when
    (row,) = rows
    assert row.kind == "yellow" and row.level == "yellow"
    (step,) = row.details["steps"]
    assert step["pending"] is True and step["SPHJDM"] == "1" and step["over_on"] == "2026-10-08"
    assert row.issued_at.astimezone(at("2026-10-08 09:00").tzinfo).date() == date(2026, 10, 8)


def step_rows(engine: Engine, sblsh: str) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(verdicts).where(verdicts.c.sblsh == sblsh, verdicts.c.rule == "step_limit")
            )
        )
