"""The verdict rules as pure functions: thresholds from the rules file, and the same answer
whatever order the records arrive in (hypothesis)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.clock import ItemLimits, WorkCalendar, evaluate, seed_rows, seed_years
from collector.engine.rules_file import load_rules, parse_rules
from collector.engine.verdicts import CaseInput, CaseRecord, evaluate_case
from tests.collector.engine.records import DEPT, at, bj, bzgz, sl, sx, tbcxjg, tbcxsq

CALENDAR = WorkCalendar.from_rows(seed_rows(seed_years()), 1)
CASE = "P-1"


def kinds(records: list[dict[str, object]], when: str, rules_text: str | None = None) -> set:
    rules = parse_rules(rules_text, "test.toml") if rules_text else load_rules(None)
    case = CaseInput(
        CASE,
        DEPT,
        tuple(CaseRecord(r, at("2026-09-24 11:00")) for r in records),
        item=sx(),
    )
    moment = at(when)
    clock = evaluate(records, ItemLimits.from_sx(sx()), CALENDAR, rules.clock, moment)
    return {(c.kind, c.code) for c in evaluate_case(case, clock, CALENDAR, rules, moment)}


def test_yellow_at_a_share_of_the_promised_limit() -> None:
    records = [sl(CASE, "2026-09-24T10:00:00+08:00", gdblsx=5)]
    # 9 Oct is the deadline (day 5); at 80 % the yellow comes once 4 days are used (8 Oct).
    assert ("yellow", "") not in kinds(records, "2026-10-09 09:00")
    share = 'version = "yulin-1"\nyellow_at_promised_share = 0.8\n'
    assert ("yellow", "") in kinds(records, "2026-10-09 09:00", share)
    assert ("yellow", "") not in kinds(records, "2026-10-08 09:00", share)


def test_warning_lead_is_configurable() -> None:
    records = [sl(CASE, "2026-09-24T10:00:00+08:00", gdblsx=5)]
    assert ("warning", "") not in kinds(records, "2026-09-30 09:00")
    # Two working days before 9 Oct is 30 Sep (1-7 Oct are the National Day holiday).
    lead = 'version = "lead-2"\nwarning_lead_workdays = 2\n'
    assert ("warning", "") in kinds(records, "2026-09-30 09:00", lead)


CASE_RECORDS = [
    sl(CASE, "2026-09-24T10:00:00+08:00", gdblsx=5),
    bzgz(CASE, 1, "2026-09-28T10:00:00+08:00"),
    bzgz(CASE, 2, "2026-09-29T10:00:00+08:00"),
    tbcxsq(CASE, 1, "B", "2026-09-30T09:00:00+08:00", 3),
    tbcxjg(CASE, 1, "2026-10-12T09:00:00+08:00"),
    tbcxsq(CASE, 2, "A", "2026-10-13T09:00:00+08:00", 12),
    bj(CASE, "2026-10-30T10:00:00+08:00", "1", ZFHTHYY="材料不符"),
]


@settings(max_examples=40, deadline=None)
@given(order=st.permutations(CASE_RECORDS), days=st.integers(min_value=0, max_value=60))
def test_verdicts_do_not_depend_on_record_order(order: list, days: int) -> None:
    when = (at("2026-09-25 09:00") + timedelta(days=days)).strftime("%Y-%m-%d %H:%M")
    assert kinds(list(order), when) == kinds(CASE_RECORDS, when)
