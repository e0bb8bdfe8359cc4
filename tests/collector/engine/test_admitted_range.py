"""The clock and the verdict rules never raise on a case the spec admits, over the whole
range a validator may admit (1900-01-01 .. 2199-12-31, limits up to 3,650 days), with the
largest thresholds a rules file may set: dates at the bounds, the longest limits, suspensions
and extensions at the ends, any UTC offset, years the calendar does not know (provisional),
evaluated at any time in the range.

A spec-valid SL with SLSJ 9999-12-31 and a 3,650-day limit once raised OverflowError in the
calendar and stopped every sweep: the spec now bounds dates, and this proves the clock on
everything inside the bounds."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.clock import SHANGHAI, WorkCalendar, seed_rows
from collector.engine.page_eval import PageInputs, clock_of, clock_row, evaluate_page
from collector.engine.rules_file import load_rules, parse_rules
from collector.engine.verdicts import CaseContext, CaseInput, CaseRecord, evaluate_case
from collector.engine.verdicts.evaluate import due_basis
from collector.engine.verdicts.recheck import recheck_on
from exchange_spec import DateBounds, validate_record
from exchange_spec.date_bounds import WIDEST

ADMITTED = DateBounds(*WIDEST)
LOW, HIGH = WIDEST
MAX_LIMIT = 3650  # common.json#/$defs/limit
DEPT = "11430700MB1534211G"
SXBM = "11430700MB1534211G300011111700001"
CALENDARS = (
    WorkCalendar.from_rows(seed_rows(range(2024, 2027)), version=7),
    WorkCalendar({}, "1"),  # no year known: everything provisional
)
RULES = (
    load_rules(None),
    parse_rules(
        'version = "steps"\n[engine.step_limits]\n"1" = 3\n"2" = 2\n"3" = 1\n', "steps.toml"
    ),
    # Every threshold at the largest value a rules file may give.
    parse_rules(
        'version = "largest"\nwarning_lead_workdays = 3650\nyellow_at_promised_share = 0.01\n'
        "red_after_yellow_workdays = 3650\nextension_cap_workdays = 3650\n"
        "extension_cap_joint_workdays = 3650\ncorrection_notice_days = 3650\n"
        "late_report_workdays = 3650\nbackdate_days = 3650\nsilence_grace_hours = 8784\n"
        '[engine]\nsilence_after_hours = 8784\n[engine.step_limits]\n"1" = 3650\n'
        '"2" = 3650\n"3" = 3650\n',
        "largest.toml",
    ),
)
OFFSETS = ("+08:00", "Z", "+00:00", "-14:59", "+14:59", "-05:30")

# Dates with the bounds and their neighbours drawn often, and the rest of the range too.
days = st.one_of(
    st.sampled_from(
        [LOW, LOW + timedelta(days=1), HIGH, HIGH - timedelta(days=1), date(2026, 10, 1)]
    ),
    st.dates(min_value=LOW, max_value=HIGH),
)


@st.composite
def times(draw: st.DrawFn) -> str:
    day = draw(days)
    clock = draw(st.sampled_from(["00:00:00", "23:59:59", "10:00:00", "12:30:00.5"]))
    return f"{day.isoformat()}T{clock}{draw(st.sampled_from(OFFSETS))}"


limits = st.one_of(st.sampled_from([1, MAX_LIMIT]), st.integers(1, MAX_LIMIT))
units = st.sampled_from(["G", "Z"])


def _record(rtype: str, sblsh: str, sjbbh: int, **fields: Any) -> dict[str, Any]:
    record = {
        "spec": "1.0",
        "type": rtype,
        "SBLSH": sblsh,
        "SXBM": SXBM,
        "XZQHDM": "430700",
        "BMBM": DEPT,
        "SJBBH": sjbbh,
        **fields,
    }
    problems = validate_record(record, ADMITTED)
    assert problems == [], [p.as_dict() for p in problems]  # the strategy stays admitted
    return record


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    sblsh = "430700SCJ20260930001"
    versions = st.integers(1, 2)
    records: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 2))):  # none, one, or two versions of the SL
        status = draw(st.sampled_from(["1", "1", "1", "2", "3", "4"]))
        fields: dict[str, Any] = {"SLZTDM": status, "SLSJ": draw(times())}
        if status in ("2", "4"):
            fields["BSLYY"] = "材料不全"
        if draw(st.booleans()):
            fields.update(GDBLSX=draw(limits), GDBLSXDW=draw(units))
        records.append(_record("SL", sblsh, draw(versions), **fields))
    if draw(st.booleans()):
        code = draw(st.sampled_from(["0", "1", "2", "3", "4", "5", "6"]))
        fields = {"BJJGDM": code, "BJSJ": draw(times())}
        if code in ("1", "2"):
            fields["ZFHTHYY"] = "申请人撤回"
        records.append(_record("BJ", sblsh, draw(versions), **fields))
    for xh in range(1, draw(st.integers(0, 3)) + 1):
        fields = {"XH": xh, "TBCXZL": draw(st.sampled_from(["A", "B"])), "TBCXKSRQ": draw(times())}
        if draw(st.booleans()):
            fields.update(TBCXSX=draw(limits), TBCXSXDW=draw(units))
        records.append(_record("TBCXSQ", sblsh, 1, **fields))
        if draw(st.booleans()):
            records.append(_record("TBCXJG", sblsh, 1, XH=xh, TBCXJSRQ=draw(times())))
    for xh in range(1, draw(st.integers(0, 2)) + 1):
        records.append(_record("BZGZ", sblsh, 1, XH=xh, BZGZSJ=draw(times())))
        if draw(st.booleans()):
            records.append(_record("BZSL", sblsh, 1, XH=xh, BZSJ=draw(times())))
    for step in range(1, draw(st.integers(0, 3)) + 1):
        code = draw(st.sampled_from(["1", "2", "3"]))
        records.append(_record("SPCL", sblsh, 1, SPHJDM=code, SPBZH=step, SPSJ=draw(times())))
    item = None
    if draw(st.booleans()):
        legal, legal_unit = draw(limits), draw(units)
        promised, promised_unit = draw(limits), draw(units)
        if promised_unit == legal_unit:
            promised = min(promised, legal)  # rule.promise_exceeds_legal
        item = {
            "spec": "1.0",
            "type": "SX",
            "SXBM": SXBM,
            "SXMC": "食品经营许可",
            "BMBM": DEPT,
            "XZQHDM": "430700",
            "SXLX": "1",
            "FDSX": legal,
            "FDSXDW": legal_unit,
            "CNSX": promised,
            "CNSXDW": promised_unit,
            "LHBL": draw(st.sampled_from(["0", "1"])),
            "SJBBH": 1,
        }
        assert validate_record(item, ADMITTED) == []
    return records, item


moments = st.builds(
    lambda day, seconds, east: (
        datetime.combine(day, datetime.min.time(), timezone(east)) + timedelta(seconds=seconds)
    ),
    days,
    st.integers(0, 86399),
    st.sampled_from([timedelta(hours=8), timedelta(0), timedelta(hours=-12)]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=cases(),
    received=st.lists(moments, min_size=20, max_size=20),
    at=moments,
    calendar=st.sampled_from(CALENDARS),
    rules=st.sampled_from(RULES),
    yellow_on=st.none() | days,
    silent=st.none() | moments,
    exempt=st.sampled_from([frozenset(), frozenset({"*"}), frozenset({"late_report"})]),
)
def test_the_clock_and_the_verdicts_never_raise_on_an_admitted_case(
    case: tuple[list[dict[str, Any]], dict[str, Any] | None],
    received: list[datetime],
    at: datetime,
    calendar: WorkCalendar,
    rules: Any,
    yellow_on: date | None,
    silent: datetime | None,
    exempt: frozenset[str],
) -> None:
    records, item = case
    if not records:
        return
    case_input = CaseInput(
        sblsh=str(records[0]["SBLSH"]),
        department=DEPT,
        records=tuple(
            CaseRecord(r, received[i % len(received)].astimezone(UTC))
            for i, r in enumerate(records)
        ),
        item=item,
    )
    clock = clock_of(case_input, calendar, rules, at)
    context = CaseContext(yellow_issued_on=yellow_on, silent_since=silent, exempt=exempt)
    today = at.astimezone(SHANGHAI).date()
    found = evaluate_case(case_input, clock, calendar, rules, at, context)
    assert all(c.kind in ("warning", "yellow", "red", "anomaly") for c in found)
    recheck = recheck_on(clock, rules, calendar, context, today, case_input)
    assert recheck is None or recheck > today
    json.dumps(due_basis(clock))
    json.dumps(clock_row(DEPT, clock, recheck, at), default=str)
    json.dumps([c.details for c in found])
    # Years the calendar does not know give a provisional answer, never an error.
    touched = [d for d in (clock.accepted_on, clock.promised_deadline) if d is not None]
    if any(not calendar.is_known(d) for d in touched):
        assert clock.provisional
    # The sweep's own page evaluation: a clock row and no unevaluable case.
    outcome = evaluate_page([case_input], {}, PageInputs(calendar, rules, at, {}, {}))
    assert [row["state"] for row in outcome.clock_rows] == [clock.state]
    assert all(candidate.code != "unevaluable" for _, _, candidate, _ in outcome.pending)


def test_the_issue_case_at_the_latest_admitted_date_is_judged() -> None:
    """The issue's record moved to the last admitted day: 3,650 working days from 2199-12-31,
    with the longest extension and a suspension from the first admitted day."""
    sblsh = "430700SCJ21991231001"
    records = [
        _record(
            "SL",
            sblsh,
            1,
            SLZTDM="1",
            SLSJ="2199-12-31T23:59:59-14:59",
            GDBLSX=MAX_LIMIT,
            GDBLSXDW="Z",
        ),
        _record(
            "TBCXSQ",
            sblsh,
            1,
            XH=1,
            TBCXZL="A",
            TBCXKSRQ="2199-12-31T10:00:00+08:00",
            TBCXSX=MAX_LIMIT,
            TBCXSXDW="Z",
        ),
        _record("TBCXSQ", sblsh, 1, XH=2, TBCXZL="B", TBCXKSRQ="1900-01-01T00:00:00+14:59"),
    ]
    case_input = CaseInput(
        sblsh, DEPT, tuple(CaseRecord(r, datetime(2026, 1, 1, tzinfo=UTC)) for r in records)
    )
    at = datetime(2199, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-12)))
    for calendar in CALENDARS:
        for rules in RULES:
            clock = clock_of(case_input, calendar, rules, at)
            assert clock.provisional and clock.accepted_on == date(2200, 1, 1)
            assert clock.promised_deadline is not None
            assert clock.promised_deadline > date(2209, 12, 1)
            evaluate_case(case_input, clock, calendar, rules, at, CaseContext())
