"""Joint handling (联合办理, 行政许可法 Art. 42): an SX catalogue record with LHBL "1" lifts the
cap on extensions (special procedure A) from 10 to 15 working days. Real 2026 dates: accepted
Tue 1 Sep, promised 10 working days (deadline 15 Sep), legal 20; an extension of 15 working
days asked on 8 Sep. 20 working days from 1 Sep end 29 Sep, 25 end 12 Oct (25-27 Sep 中秋节,
1-7 Oct 国庆节, 20 Sep and 10 Oct adjusted working days), 30 end 19 Oct, 35 end 26 Oct."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from collector.clock import ClockRules, ItemLimits, WorkCalendar, evaluate
from exchange_spec import validate_record
from tests.collector.clock.test_clock import at, extension, sl

RULES = ClockRules()


def catalogue_item(lhbl: str | None) -> dict[str, Any]:
    """A real, schema-valid SX record (the field is optional: None leaves it out)."""
    record: dict[str, Any] = {
        "spec": "1.0",
        "type": "SX",
        "SXBM": "X1",
        "SXMC": "建设工程规划许可",
        "BMBM": "D1",
        "XZQHDM": "430700",
        "SXLX": "1",
        "FDSX": 20,
        "FDSXDW": "G",
        "CNSX": 10,
        "CNSXDW": "G",
        "SJBBH": 1,
    }
    if lhbl is not None:
        record["LHBL"] = lhbl
    assert validate_record(record) == [], lhbl
    return record


RECORDS = [sl("09-01"), extension(1, "09-08", 15)]


def test_the_spec_accepts_lhbl_0_and_1_only() -> None:
    catalogue_item("0")
    catalogue_item("1")
    wrong = {**catalogue_item(None), "LHBL": "2"}
    assert [p.path for p in validate_record(wrong)] == ["LHBL"]


def test_a_joint_item_gets_the_whole_15_day_extension(calendar_2026: WorkCalendar) -> None:
    limits = ItemLimits.from_sx(catalogue_item("1"))
    assert limits.joint
    clock = evaluate(RECORDS, limits, calendar_2026, RULES, at("09-30"))
    assert clock.extension_workdays_requested == 15
    assert clock.extension_workdays_granted == 15
    assert clock.extension_workdays_over_cap == 0
    assert "extension_over_cap" not in clock.fact_codes()
    assert clock.promised_deadline == date(2026, 10, 12)  # 10 + 15 working days
    assert clock.legal_deadline == date(2026, 10, 26)  # 20 + 15
    assert clock.state == "running" and not clock.past_promised


@pytest.mark.parametrize("lhbl", ["0", None], ids=["LHBL-0", "LHBL-absent"])
def test_an_ordinary_item_gets_10_days_and_the_excess_is_reported(
    calendar_2026: WorkCalendar, lhbl: str | None
) -> None:
    limits = ItemLimits.from_sx(catalogue_item(lhbl))
    assert not limits.joint
    clock = evaluate(RECORDS, limits, calendar_2026, RULES, at("09-30"))
    assert clock.extension_workdays_requested == 15
    assert clock.extension_workdays_granted == 10
    assert clock.extension_workdays_over_cap == 5
    assert "extension_over_cap" in clock.fact_codes()
    assert clock.promised_deadline == date(2026, 9, 29)  # 10 + 10 working days
    assert clock.legal_deadline == date(2026, 10, 19)  # 20 + 10
    assert clock.past_promised  # 30 Sep is the day after the capped deadline
