"""The case clock: examples across the 2026 holidays, limits, suspensions, extensions,
completion, versions; and properties that must hold for any case."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.clock import (
    SHANGHAI,
    CaseClock,
    CaseRecordsError,
    ClockRules,
    ItemLimits,
    WorkCalendar,
    evaluate,
    seed_rows,
)

RULES = ClockRules()
ITEM = ItemLimits(legal=20, promised=10)
Record = dict[str, Any]


def t(day: str, hour: int = 10) -> str:
    """A +08:00 time on a 2026 date ("MM-DD") or a full date."""
    full = day if len(day) == 10 else f"2026-{day}"
    return f"{full}T{hour:02d}:00:00+08:00"


def at(day: str, hour: int = 12) -> datetime:
    full = day if len(day) == 10 else f"2026-{day}"
    return datetime.fromisoformat(full).replace(hour=hour, tzinfo=SHANGHAI)


def d(day: str) -> date:
    return date.fromisoformat(day if len(day) == 10 else f"2026-{day}")


def rec(rtype: str, **fields: Any) -> Record:
    return {
        "spec": "1.0",
        "type": rtype,
        "SBLSH": "430700-D1-0001",
        "SXBM": "X1",
        "BMBM": "D1",
        "XZQHDM": "430700",
        "SJBBH": fields.pop("SJBBH", 1),
        **fields,
    }


def sl(day: str, limit: int | None = None, unit: str | None = "G", **more: Any) -> Record:
    fields: dict[str, Any] = {"SLZTDM": "1", "SLSJ": t(day), **more}
    if limit is not None:
        fields["GDBLSX"] = limit
        if unit is not None:
            fields["GDBLSXDW"] = unit
    return rec("SL", **fields)


def suspension_b(xh: int, start: str, end: str | None) -> list[Record]:
    out = [rec("TBCXSQ", XH=xh, TBCXZL="B", TBCXKSRQ=t(start), TBCXSX=10, TBCXSXDW="G")]
    if end is not None:
        out.append(rec("TBCXJG", XH=xh, TBCXJSRQ=t(end)))
    return out


def correction(xh: int, start: str, end: str | None) -> list[Record]:
    out = [rec("BZGZ", XH=xh, BZGZSJ=t(start))]
    if end is not None:
        out.append(rec("BZSL", XH=xh, BZSJ=t(end)))
    return out


def extension(xh: int, start: str, days: int, unit: str = "G") -> Record:
    return rec("TBCXSQ", XH=xh, TBCXZL="A", TBCXKSRQ=t(start), TBCXSX=days, TBCXSXDW=unit)


def bj(day: str, code: str = "6") -> Record:
    return rec("BJ", BJJGDM=code, BJSJ=t(day, 16))


def run(
    calendar: WorkCalendar,
    records: list[Record],
    when: str,
    item: ItemLimits | None = ITEM,
    rules: ClockRules = RULES,
) -> CaseClock:
    return evaluate(records, item, calendar, rules, at(when))


# -- examples across the 2026 calendar -----------------------------------------------------


def test_the_brief_example(calendar_2026: WorkCalendar) -> None:
    clock = run(calendar_2026, [sl("09-24", 5)], "10-09")
    assert clock.accepted_on == d("09-24")
    assert clock.promised_deadline == d("10-09")
    assert clock.legal_deadline == d("10-29")  # 20 G, 10-10 Saturday works
    assert clock.state == "running" and clock.days_left == 0 and clock.workdays_used == 5
    assert clock.warning_on == d("10-08")
    assert not clock.provisional
    assert clock.calendar_version == calendar_2026.version
    assert clock.rule_version == RULES.version


def test_overdue_the_day_after_the_promised_deadline(calendar_2026: WorkCalendar) -> None:
    clock = run(calendar_2026, [sl("09-24", 5)], "10-10")
    assert clock.state == "overdue" and clock.past_promised and not clock.past_legal
    assert clock.days_left == -1
    # A rest day after the deadline is still overdue, by at least one day.
    clock = run(calendar_2026, [sl("09-24", 6)], "10-11")  # deadline 10-10, 10-11 Sunday
    assert clock.promised_deadline == d("10-10") and clock.state == "overdue"
    assert clock.days_left == -1
    clock = run(calendar_2026, [sl("09-24", 5)], "10-30")
    assert clock.past_legal and clock.days_left == -16  # 10-10 Saturday works


def test_spring_festival_with_working_saturdays(calendar_2026: WorkCalendar) -> None:
    # Accepted Friday 02-13: Saturday 02-14 is day 1, 02-15..23 rest, 02-24 day 2.
    clock = run(calendar_2026, [sl("02-13", 3)], "02-20")
    assert clock.promised_deadline == d("02-25")
    assert clock.workdays_used == 1 and clock.days_left == 2
    # Accepted 02-24 with 4 days: 25, 26, 27, Saturday 02-28.
    assert run(calendar_2026, [sl("02-24", 4)], "02-24").promised_deadline == d("02-28")


def test_natural_day_limits_move_off_rest_days(calendar_2026: WorkCalendar) -> None:
    assert run(calendar_2026, [sl("09-24", 7, "Z")], "09-24").promised_deadline == d("10-08")
    assert run(calendar_2026, [sl("09-24", 16, "Z")], "09-24").promised_deadline == d("10-10")
    assert run(calendar_2026, [sl("09-24", 17, "Z")], "09-24").promised_deadline == d("10-12")
    assert run(calendar_2026, [sl("09-07", 3, "Z")], "09-07").promised_deadline == d("09-10")


def test_limit_precedence(calendar_2026: WorkCalendar) -> None:
    from_sl = run(calendar_2026, [sl("03-02", 3)], "03-02")
    assert from_sl.promised_limit is not None and from_sl.promised_limit.source == "SL.GDBLSX"
    assert from_sl.promised_limit.days == 3
    from_catalogue = run(calendar_2026, [sl("03-02")], "03-02")
    assert from_catalogue.promised_limit is not None
    assert from_catalogue.promised_limit.source == "SX.CNSX"
    assert from_catalogue.promised_limit.days == 10
    legal_only = run(calendar_2026, [sl("03-02")], "03-02", item=ItemLimits(legal=20))
    assert legal_only.promised_limit is not None
    assert legal_only.promised_limit.source == "SX.FDSX"
    assert "promised_from_legal" in legal_only.fact_codes()
    assert legal_only.promised_deadline == legal_only.legal_deadline
    nothing = run(calendar_2026, [sl("03-02")], "03-02", item=None)
    assert nothing.promised_deadline is None and nothing.legal_deadline is None
    assert {"legal_limit_unknown", "no_limit"} <= nothing.fact_codes()
    assert nothing.state == "running"
    longer = run(calendar_2026, [sl("03-02", 30)], "03-02")
    assert "promised_longer_than_legal" in longer.fact_codes()


def test_a_missing_unit_is_assumed_working_days_and_reported(
    calendar_2026: WorkCalendar,
) -> None:
    clock = run(calendar_2026, [sl("09-24", 5, unit=None)], "09-24")
    assert clock.promised_deadline == d("10-09")
    assert "unit_assumed_workdays" in clock.fact_codes()


# Accepted Monday 03-02 with 10 working days: deadline 03-16 without suspension.
BASE = [sl("03-02", 10)]


def test_special_procedure_b_suspends_start_exclusive_end_inclusive(
    calendar_2026: WorkCalendar,
) -> None:
    assert run(calendar_2026, BASE, "03-03").promised_deadline == d("03-16")
    clock = run(calendar_2026, BASE + suspension_b(1, "03-04", "03-06"), "03-09")
    # 03-05 and 03-06 are suspended; 03-04 (the start day) still counts.
    assert clock.suspended_workdays == 2
    assert clock.promised_deadline == d("03-18")
    assert clock.legal_deadline == calendar_2026.add_workdays(d("03-02"), 22).date
    assert clock.workdays_used == 3  # 03-03, 03-04, 03-09
    assert clock.state == "running"
    assert clock.suspensions[0].as_dict() == {
        "kind": "special_procedure",
        "xh": "1",
        "start": "2026-03-04",
        "end": "2026-03-06",
        "open": False,
        "workdays": 2,
    }
    same_day = run(calendar_2026, BASE + suspension_b(1, "03-04", "03-04"), "03-09")
    assert same_day.suspended_workdays == 0 and same_day.promised_deadline == d("03-16")


def test_an_open_suspension_suspends_up_to_now(calendar_2026: WorkCalendar) -> None:
    clock = run(calendar_2026, BASE + suspension_b(1, "03-04", None), "03-10")
    assert clock.state == "suspended"
    assert clock.suspended_workdays == 4  # 03-05, 06, 09, 10
    assert clock.promised_deadline == d("03-20")
    assert "suspension_open" in clock.fact_codes()


def test_correction_suspends_like_a_procedure(calendar_2026: WorkCalendar) -> None:
    clock = run(calendar_2026, BASE + correction(1, "03-04", "03-06"), "03-09")
    assert clock.promised_deadline == d("03-18") and clock.suspended_workdays == 2
    assert clock.suspensions[0].kind == "correction"
    open_ = run(calendar_2026, BASE + correction(1, "03-04", None), "03-05")
    assert open_.state == "suspended"
    off = run(
        calendar_2026,
        BASE + correction(1, "03-04", "03-06"),
        "03-09",
        rules=ClockRules(version="x", correction_suspends=False),
    )
    assert off.promised_deadline == d("03-16") and off.rule_version == "x"


def test_overlapping_suspensions_count_each_day_once(calendar_2026: WorkCalendar) -> None:
    records = BASE + suspension_b(1, "03-04", "03-06") + correction(1, "03-05", "03-09")
    clock = run(calendar_2026, records, "03-10")
    assert clock.suspended_workdays == 3  # 03-05, 06, 09
    assert clock.promised_deadline == d("03-19")


def test_a_suspension_across_national_day(calendar_2026: WorkCalendar) -> None:
    # Suspended 09-28 -> 10-09: working days 29, 30, 10-08, 10-09 (4).
    records = [sl("09-24", 5), *suspension_b(1, "09-28", "10-09")]
    clock = run(calendar_2026, records, "10-12")
    assert clock.suspended_workdays == 4
    assert clock.promised_deadline == calendar_2026.add_workdays(d("10-09"), 4).date
    assert clock.promised_deadline == d("10-14")


def test_a_suspension_after_the_deadline_does_not_rescue(calendar_2026: WorkCalendar) -> None:
    records = BASE + suspension_b(1, "03-17", None)
    clock = run(calendar_2026, records, "03-20")
    assert clock.promised_deadline == d("03-16")
    assert clock.state == "overdue" and clock.past_promised


def test_second_correction_notice_and_other_facts(calendar_2026: WorkCalendar) -> None:
    records = BASE + correction(1, "03-03", "03-04") + correction(2, "03-05", "03-06")
    records.append(rec("BZSL", XH=3, BZSJ=t("03-06")))
    records.append(rec("TBCXJG", XH=9, TBCXJSRQ=t("03-06")))
    codes = run(calendar_2026, records, "03-09").fact_codes()
    assert {
        "second_correction_notice",
        "correction_without_notice",
        "procedure_end_without_start",
    } <= codes


def test_a_procedure_covering_the_whole_case_is_reported(calendar_2026: WorkCalendar) -> None:
    records = [*BASE, *suspension_b(1, "03-02", "03-20"), bj("03-20")]
    clock = run(calendar_2026, records, "03-23")
    assert "suspension_covers_case" in clock.fact_codes()
    assert "suspension_longer_than_declared" in clock.fact_codes()  # 14 G > declared 10


def test_a_procedure_after_completion_is_reported(calendar_2026: WorkCalendar) -> None:
    records = [*BASE, bj("03-10"), *suspension_b(1, "03-11", "03-12")]
    clock = run(calendar_2026, records, "03-13")
    assert "procedure_after_completion" in clock.fact_codes()
    assert clock.suspended_workdays == 0 and clock.promised_deadline == d("03-16")


def test_extension_adds_to_both_limits(calendar_2026: WorkCalendar) -> None:
    clock = run(calendar_2026, [*BASE, extension(1, "03-10", 5)], "03-11")
    assert clock.extension_workdays_requested == clock.extension_workdays_granted == 5
    assert clock.promised_deadline == calendar_2026.add_workdays(d("03-02"), 15).date
    assert clock.legal_deadline == calendar_2026.add_workdays(d("03-02"), 25).date
    assert clock.promised_limit is not None and clock.promised_limit.extension_days == 5


def test_extension_over_the_cap_counts_only_up_to_the_cap(calendar_2026: WorkCalendar) -> None:
    records = [*BASE, extension(1, "03-10", 8), extension(2, "03-12", 7)]
    clock = run(calendar_2026, records, "03-13")
    assert clock.extension_workdays_requested == 15
    assert clock.extension_workdays_granted == 10
    assert clock.extension_workdays_over_cap == 5
    assert "extension_over_cap" in clock.fact_codes()
    assert clock.legal_deadline == calendar_2026.add_workdays(d("03-02"), 30).date
    joint = run(calendar_2026, records, "03-13", item=ItemLimits(20, promised=10, joint=True))
    assert joint.extension_workdays_granted == 15 and joint.extension_workdays_over_cap == 0
    assert joint.legal_deadline == calendar_2026.add_workdays(d("03-02"), 35).date


def test_a_natural_day_extension_is_converted_to_working_days(
    calendar_2026: WorkCalendar,
) -> None:
    # Legal deadline 03-30 (20 G); the 7 natural days after it hold 4 working days
    # (03-31 to 04-03; 04-04..06 is 清明节).
    clock = run(calendar_2026, [*BASE, extension(1, "03-10", 7, "Z")], "03-11")
    assert clock.extension_workdays_granted == 4
    assert clock.promised_deadline == calendar_2026.add_workdays(d("03-16"), 4).date


def test_an_extension_after_the_deadline_is_reported(calendar_2026: WorkCalendar) -> None:
    clock = run(calendar_2026, [*BASE, extension(1, "03-18", 5)], "03-19")
    assert "extension_after_deadline" in clock.fact_codes()


def test_completion_stops_the_clock(calendar_2026: WorkCalendar) -> None:
    on_time = run(calendar_2026, [*BASE, bj("03-16")], "04-30")
    assert on_time.state == "completed" and on_time.completed_on == d("03-16")
    assert not on_time.completed_late_promised and not on_time.past_promised
    assert on_time.workdays_used == 10 and on_time.days_left == 0
    assert on_time.completion_code == "6"
    late = run(calendar_2026, [*BASE, bj("03-17")], "04-30")
    assert late.completed_late_promised and not late.completed_late_legal
    assert late.days_left == -1 and late.workdays_used == 11
    early = run(calendar_2026, [*BASE, bj("03-05")], "03-06")
    assert early.days_left == 7


def test_an_evaluation_before_acceptance_counts_nothing(calendar_2026: WorkCalendar) -> None:
    clock = run(calendar_2026, BASE, "02-27")
    assert clock.state == "running" and clock.workdays_used == 0 and clock.days_left == 10


def test_completion_closes_an_open_suspension(calendar_2026: WorkCalendar) -> None:
    records = [*BASE, *suspension_b(1, "03-04", None), bj("03-06")]
    clock = run(calendar_2026, records, "03-20")
    assert clock.state == "completed" and clock.suspended_workdays == 2
    assert "suspension_not_closed" in clock.fact_codes()


def test_the_highest_sjbbh_wins_in_any_order(calendar_2026: WorkCalendar) -> None:
    v1 = sl("03-02", 5, SJBBH=1)
    v2 = sl("03-02", 10, SJBBH=2)
    for records in ([v1, v2], [v2, v1]):
        clock = run(calendar_2026, records, "03-03")
        assert clock.promised_deadline == d("03-16")
    withdrawn_end = rec("TBCXJG", XH=1, TBCXJSRQ=t("03-06"), SJBBH=2)
    records = [*BASE, *suspension_b(1, "03-04", "03-05"), withdrawn_end]
    assert run(calendar_2026, records, "03-09").suspended_workdays == 2


def test_equal_versions_with_different_content_are_reported(
    calendar_2026: WorkCalendar,
) -> None:
    a, b = sl("03-02", 5), sl("03-02", 10)
    first = run(calendar_2026, [a, b], "03-03")
    second = run(calendar_2026, [b, a], "03-03")
    assert first == second
    assert "conflicting_versions" in first.fact_codes()
    # A conflict at an old version does not matter once a higher version exists.
    c = sl("03-02", 7, SJBBH=2)
    for records in ([a, b, c], [c, b, a], [b, c, a]):
        clock = run(calendar_2026, records, "03-03")
        assert "conflicting_versions" not in clock.fact_codes()
        assert clock.promised_deadline == d("03-11")


def test_not_accepted_cases_have_no_clock(calendar_2026: WorkCalendar) -> None:
    refused = run(calendar_2026, [rec("SL", SLZTDM="2", SLSJ=t("03-02"))], "03-20")
    assert refused.state == "not_accepted" and refused.promised_deadline is None
    assert "not_accepted" in refused.fact_codes()
    orphan = run(calendar_2026, [bj("03-05")], "03-20")
    assert orphan.state == "not_accepted"
    assert {"no_acceptance", "completion_without_acceptance"} <= orphan.fact_codes()


def test_times_are_taken_as_shanghai_dates(calendar_2026: WorkCalendar) -> None:
    # 2026-03-02T17:00Z is 03-03 01:00 in Shanghai.
    record = sl("03-02", 1) | {"SLSJ": "2026-03-02T17:00:00Z"}
    clock = evaluate([record], ITEM, calendar_2026, RULES, at("03-04"))
    assert clock.accepted_on == d("03-03") and clock.promised_deadline == d("03-04")
    late_utc = datetime(2026, 3, 4, 16, 30, tzinfo=UTC)  # 03-05 00:30 Shanghai
    assert evaluate([record], ITEM, calendar_2026, RULES, late_utc).state == "overdue"


def test_a_case_into_2027_is_provisional(seed_calendar: WorkCalendar) -> None:
    clock = run(seed_calendar, [sl("12-21", 10)], "12-22")
    # 12-22..25 (4), 28..31 (8), then 2027 weekends-only: 01-01 Fri (9), 01-04 Mon (10).
    assert clock.promised_deadline == date(2027, 1, 4)
    assert clock.provisional
    assert clock.as_dict()["provisional"] is True
    inside = run(seed_calendar, [sl("12-01", 10)], "12-02")
    assert not inside.provisional


def test_bad_input_is_refused_with_words(calendar_2026: WorkCalendar) -> None:
    other = sl("03-02", 5) | {"SBLSH": "OTHER"}
    with pytest.raises(CaseRecordsError, match="one case"):
        run(calendar_2026, [sl("03-02", 5), other], "03-03")
    with pytest.raises(CaseRecordsError, match="UTC offset"):
        evaluate([sl("03-02")], ITEM, calendar_2026, RULES, datetime(2026, 3, 3))
    naive = sl("03-02") | {"SLSJ": "2026-03-02T10:00:00"}
    with pytest.raises(CaseRecordsError, match=r"SL\.SLSJ"):
        run(calendar_2026, [naive], "03-03")


def test_as_dict_is_json_ready(calendar_2026: WorkCalendar) -> None:
    records = [*BASE, *suspension_b(1, "03-04", "03-06"), extension(2, "03-05", 3)]
    data = run(calendar_2026, records, "03-09").as_dict()
    again = json.loads(json.dumps(data, ensure_ascii=False))
    assert again == data
    assert data["promised_deadline"] == "2026-03-23"
    assert data["state"] == "running" and data["suspensions"][0]["workdays"] == 2


# -- properties -----------------------------------------------------------------------------

CAL = WorkCalendar.from_rows(seed_rows(range(2025, 2027)))
accept_days = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 3, 1))


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Record], date]:
    accepted = draw(accept_days)
    limit = draw(st.integers(min_value=1, max_value=45))
    unit = draw(st.sampled_from(["G", "Z"]))
    records: list[Record] = [sl(accepted.isoformat(), limit, unit)]
    for xh in range(1, draw(st.integers(min_value=0, max_value=3)) + 1):
        start = accepted + timedelta(days=draw(st.integers(min_value=-2, max_value=60)))
        length = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=30)))
        end = None if length is None else (start + timedelta(days=length)).isoformat()
        kind = draw(st.sampled_from([suspension_b, correction]))
        records += kind(xh, start.isoformat(), end)
    if draw(st.booleans()):
        days = draw(st.integers(min_value=1, max_value=12))
        start = accepted + timedelta(days=draw(st.integers(min_value=0, max_value=30)))
        records.append(extension(9, start.isoformat(), days))
    if draw(st.booleans()):
        done = accepted + timedelta(days=draw(st.integers(min_value=0, max_value=90)))
        records.append(bj(done.isoformat()))
    # Resends: copies with other versions, some with different content at the same version.
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        copy = dict(draw(st.sampled_from(records)))
        copy["SJBBH"] = draw(st.integers(min_value=1, max_value=3))
        copy["BZ"] = draw(st.sampled_from(["", "resend", "corrected"]))
        records.append(copy)
    now = accepted + timedelta(days=draw(st.integers(min_value=0, max_value=120)))
    return records, now


def at_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=SHANGHAI)


@settings(max_examples=300, deadline=None)
@given(case=cases())
def test_deadlines_never_fall_on_rest_days(case: tuple[list[Record], date]) -> None:
    records, now = case
    clock = evaluate(records, ITEM, CAL, RULES, at_day(now))
    for deadline in (clock.promised_deadline, clock.legal_deadline):
        assert deadline is not None and CAL.is_workday(deadline)
    assert clock.warning_on is not None and clock.promised_deadline is not None
    assert clock.warning_on < clock.promised_deadline and CAL.is_workday(clock.warning_on)
    # Used + left = the limit, while the deadline has not passed (working-day limits).
    limit = clock.promised_limit
    assert limit is not None and clock.accepted_on is not None and clock.days_left is not None
    stop_day = clock.completed_on or now
    if limit.unit == "G" and clock.accepted_on <= stop_day <= clock.promised_deadline:
        assert clock.workdays_used + clock.days_left == limit.days + limit.extension_days
    # Provisional exactly when a date the clock relies on lies outside 2025-2026.
    stop = clock.completed_on or now
    relied_on = (clock.promised_deadline, clock.legal_deadline, stop)
    if not all(CAL.is_known(x) for x in relied_on):
        assert clock.provisional
    elif clock.accepted_on is not None and clock.accepted_on >= date(2025, 1, 15):
        assert not clock.provisional


@settings(max_examples=300, deadline=None)
@given(case=cases(), seed=st.integers())
def test_the_clock_does_not_depend_on_record_order(
    case: tuple[list[Record], date], seed: int
) -> None:
    records, now = case
    shuffled = list(records)
    random.Random(seed).shuffle(shuffled)
    assert evaluate(shuffled, ITEM, CAL, RULES, at_day(now)) == evaluate(
        records, ITEM, CAL, RULES, at_day(now)
    )


@settings(max_examples=300, deadline=None)
@given(
    case=cases(),
    offset=st.integers(min_value=-3, max_value=60),
    length=st.one_of(st.none(), st.integers(min_value=0, max_value=40)),
)
def test_adding_a_suspension_never_makes_a_deadline_earlier(
    case: tuple[list[Record], date], offset: int, length: int | None
) -> None:
    records, now = case
    accepted = date.fromisoformat(records[0]["SLSJ"][:10])
    start = accepted + timedelta(days=offset)
    end = None if length is None else (start + timedelta(days=length)).isoformat()
    before = evaluate(records, ITEM, CAL, RULES, at_day(now))
    after = evaluate(
        records + suspension_b(50, start.isoformat(), end), ITEM, CAL, RULES, at_day(now)
    )
    assert before.promised_deadline is not None and after.promised_deadline is not None
    assert before.legal_deadline is not None and after.legal_deadline is not None
    assert after.promised_deadline >= before.promised_deadline
    assert after.legal_deadline >= before.legal_deadline
    assert after.suspended_workdays >= before.suspended_workdays


@settings(max_examples=300, deadline=None)
@given(
    accepted=accept_days,
    limit=st.integers(min_value=1, max_value=40),
    offset=st.integers(min_value=0, max_value=60),
    length=st.integers(min_value=0, max_value=30),
)
def test_a_suspension_of_k_workdays_pushes_the_deadline_by_exactly_k(
    accepted: date, limit: int, offset: int, length: int
) -> None:
    base = [sl(accepted.isoformat(), limit)]
    far = at_day(accepted + timedelta(days=400))
    plain = evaluate(base, ITEM, CAL, RULES, far).promised_deadline
    assert plain is not None
    start = accepted + timedelta(days=offset)
    end = start + timedelta(days=length)
    suspended = evaluate(
        base + suspension_b(1, start.isoformat(), end.isoformat()), ITEM, CAL, RULES, far
    )
    k = CAL.workdays_between(start, end).count
    assert suspended.suspended_workdays == k
    if start < plain:
        assert suspended.promised_deadline == CAL.add_workdays(plain, k).date
    else:
        assert suspended.promised_deadline == plain  # too late to move it


def test_a_suspension_does_not_pull_an_extended_natural_day_deadline_earlier() -> None:
    # Found by the property above: 34 natural days from Sat 2025-02-01 end on Fri 03-07;
    # a special procedure B over 02-02 (a Sunday) moves that to Mon 03-10. The 2-working-day
    # extension must then count from 03-10 (-> 03-12), never end before 03-11, its end
    # without the suspension.
    records = [
        rec("SL", SLZTDM="1", SLSJ="2025-02-01T10:00:00+08:00", GDBLSX=34, GDBLSXDW="Z"),
        rec("TBCXSQ", XH=9, TBCXZL="A", TBCXKSRQ="2025-02-01T10:00:00+08:00", TBCXSX=2,
            TBCXSXDW="G"),
        rec("BJ", BJJGDM="6", BJSJ="2025-02-02T16:00:00+08:00"),
    ]  # fmt: skip
    at = at_day(date(2025, 2, 1))
    before = evaluate(records, ITEM, CAL, RULES, at)
    after = evaluate(records + suspension_b(50, "2025-02-01", None), ITEM, CAL, RULES, at)
    assert before.promised_deadline == date(2025, 3, 11)
    assert after.promised_deadline == date(2025, 3, 12)
    assert after.promised_limit is not None and after.promised_limit.extension_days == 2
