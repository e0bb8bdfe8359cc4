"""Every named rule: it fires when it should, stays quiet when it should not."""

from __future__ import annotations

from typing import Any

import pytest

from exchange_spec import validate_record, validate_record_set, validate_records
from exchange_spec.rules import RULES, RecordSetChecker

BASE = {
    "spec": "1.0",
    "SBLSH": "430700SCJ20260914001",
    "SXBM": "11430700MB1534211G300011111700001",
    "BMBM": "11430700MB1534211G",
    "XZQHDM": "430700",
    "SJBBH": 1,
}


def rec(rtype: str, **fields: Any) -> dict[str, Any]:
    return {**BASE, "type": rtype, **fields}


def sl(**fields: Any) -> dict[str, Any]:
    return rec("SL", **{"SLZTDM": "1", "SLSJ": "2026-09-14T10:00:00+08:00", **fields})


def bj(**fields: Any) -> dict[str, Any]:
    return rec("BJ", **{"BJJGDM": "0", "BJSJ": "2026-09-18T15:00:00+08:00", **fields})


SX = {
    "spec": "1.0",
    "type": "SX",
    "SXBM": "11430700MB1534211G300011111700001",
    "SXMC": "食品经营许可",
    "BMBM": "11430700MB1534211G",
    "XZQHDM": "430700",
    "SXLX": "1",
    "FDSX": 20,
    "FDSXDW": "G",
    "CNSX": 10,
    "CNSXDW": "G",
    "SJBBH": 1,
}


def codes(record: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.code, p.path) for p in validate_record(record)]


def test_rule_codes_are_unique_and_named() -> None:
    all_codes = [r.code for r in RULES]
    assert len(all_codes) == len(set(all_codes))
    assert 6 <= len(all_codes) <= 10
    for rule in RULES:
        assert rule.code.startswith("rule.") and rule.title_zh and rule.title_en
        assert rule.scope in ("record", "set") and rule.record_types


def test_rules_name_exactly_the_types_they_can_concern() -> None:
    from exchange_spec import RECORD_TYPES
    from exchange_spec.schema_store import fields_with_format

    [time_rule] = [r for r in RULES if r.code == "rule.time_not_real"]
    for rtype in RECORD_TYPES:
        has_times = bool(fields_with_format(rtype, "time") + fields_with_format(rtype, "date"))
        assert (rtype in time_rule.record_types) == has_times, rtype


@pytest.mark.parametrize("status", ["2", "4"])
@pytest.mark.parametrize("reason", [None, "", "无", " / ", "NULL", "暂无"])
def test_refusal_needs_reason(status: str, reason: str | None) -> None:
    record = sl(SLZTDM=status) if reason is None else sl(SLZTDM=status, BSLYY=reason)
    found = codes(record)
    if reason == "":  # the schema already refuses an empty string: one cause, one problem
        assert found == [("schema.length", "BSLYY")]
    else:
        assert found == [("rule.refusal_needs_reason", "BSLYY")]


def test_refusal_with_reason_or_acceptance_passes() -> None:
    assert codes(sl(SLZTDM="4", BSLYY="不属于本机关职权范围")) == []
    assert codes(sl(SLZTDM="1")) == []
    assert codes(sl(SLZTDM="3")) == []


@pytest.mark.parametrize("result", ["1", "2"])
def test_return_or_void_needs_reason(result: str) -> None:
    assert codes(bj(BJJGDM=result)) == [("rule.return_needs_reason", "ZFHTHYY")]
    assert codes(bj(BJJGDM=result, ZFHTHYY="-")) == [("rule.return_needs_reason", "ZFHTHYY")]
    assert codes(bj(BJJGDM=result, ZFHTHYY="申请人撤回申请")) == []


def test_other_completions_need_no_reason() -> None:
    for result in ("0", "3", "4", "5", "6"):
        assert codes(bj(BJJGDM=result)) == []


def test_limit_needs_unit() -> None:
    assert codes(sl(GDBLSX=20)) == [("rule.limit_needs_unit", "GDBLSXDW")]
    assert codes(sl(GDBLSXDW="G")) == [("rule.limit_needs_unit", "GDBLSX")]
    assert codes(sl(GDBLSX=20, GDBLSXDW="Z")) == []
    special = rec("TBCXSQ", XH=1, TBCXZL="A", TBCXKSRQ="2026-09-15T09:00:00+08:00", TBCXSX=3)
    assert codes(special) == [("rule.limit_needs_unit", "TBCXSXDW")]
    no_legal_unit = {k: v for k, v in SX.items() if k != "FDSXDW"}
    assert codes(no_legal_unit) == [("rule.limit_needs_unit", "FDSXDW")]


def test_limit_must_be_positive() -> None:
    assert codes(sl(GDBLSX=0, GDBLSXDW="G")) == [("schema.range", "GDBLSX")]


def test_promise_not_longer_than_law() -> None:
    assert codes(dict(SX, CNSX=21)) == [("rule.promise_exceeds_legal", "CNSX")]
    assert codes(dict(SX, CNSX=20)) == []
    # different units cannot be compared without the calendar: no verdict here
    assert codes(dict(SX, CNSX=25, CNSXDW="Z")) == []


def test_placeholders_in_codes_and_names() -> None:
    assert codes(sl(SXMC="无")) == [("rule.placeholder_value", "SXMC")]
    assert codes(sl(BMBM="null")) == [("rule.placeholder_value", "BMBM")]
    assert codes(dict(SX, SXBM="-")) == [("rule.placeholder_value", "SXBM")]
    assert codes(sl(SXMC="无证餐饮整治备案")) == []


@pytest.mark.parametrize(
    "value",
    ["2026-02-30T10:00:00+08:00", "2026-02-29T10:00:00+08:00", "2026-04-31T00:00:00Z"],
)
def test_time_must_exist(value: str) -> None:
    assert codes(sl(SLSJ=value)) == [("rule.time_not_real", "SLSJ")]


def test_real_times_pass() -> None:
    for value in ("2028-02-29T10:00:00+08:00", "2026-01-31T23:59:59.5+08:00"):
        assert codes(sl(SLSJ=value)) == []
    assert codes(bj(ZJYXQX="2031-02-30")) == [("rule.time_not_real", "ZJYXQX")]


# --- record-set rules --------------------------------------------------------------------


def test_completion_before_acceptance() -> None:
    records = [sl(), bj(BJSJ="2026-09-13T15:00:00+08:00")]
    [(index, problem)] = validate_record_set(records)
    assert index == 1
    assert (problem.code, problem.path, problem.record_type) == (
        "rule.completion_before_acceptance",
        "BJSJ",
        "BJ",
    )
    assert "430700SCJ20260914001" in problem.message_zh and "SLSJ" in problem.message_en


def test_order_is_by_instant_not_by_text() -> None:
    # 09:00+08:00 is 01:00 UTC: the completion at 02:00Z is after it
    records = [sl(SLSJ="2026-09-14T09:00:00+08:00"), bj(BJSJ="2026-09-14T02:00:00Z")]
    assert validate_record_set(records) == []
    assert validate_record_set([sl(), bj()]) == []


def test_set_rules_compare_within_one_case_only() -> None:
    other = bj(SBLSH="430700SCJ20260914999", BJSJ="2026-09-01T00:00:00+08:00")
    assert validate_record_set([sl(), other]) == []


def test_highest_version_counts() -> None:
    wrong = sl(SLSJ="2026-09-20T10:00:00+08:00")
    fixed = sl(SJBBH=2)
    completion = bj()
    assert [p.code for _, p in validate_record_set([wrong, completion])] == [
        "rule.completion_before_acceptance"
    ]
    assert validate_record_set([wrong, completion, fixed]) == []
    assert validate_record_set([fixed, completion, wrong]) == []


def test_special_procedure_end_before_start() -> None:
    start = rec("TBCXSQ", XH=1, TBCXZL="B", TBCXKSRQ="2026-09-18T09:00:00+08:00")
    end = rec("TBCXJG", XH=1, TBCXJSRQ="2026-09-17T17:00:00+08:00")
    [(index, problem)] = validate_record_set([end, start])
    assert index == 0 and problem.code == "rule.special_end_before_start"
    assert "XH=1" in problem.message_zh
    # a different XH is a different special procedure
    assert validate_record_set([start, dict(end, XH=2)]) == []


def test_correction_received_before_notice() -> None:
    notice = rec("BZGZ", XH=1, BZGZSJ="2026-09-16T10:00:00+08:00")
    received = rec("BZSL", XH=1, BZSJ="2026-09-16T09:59:59+08:00")
    [(index, problem)] = validate_record_set([notice, received])
    assert index == 1 and problem.code == "rule.correction_before_notice"
    assert validate_record_set([notice, dict(received, BZSJ="2026-09-22T09:00:00+08:00")]) == []


def test_validate_records_reports_both_kinds_in_order() -> None:
    records = [sl(), bj(BJSJ="2026-09-13T15:00:00+08:00", BJJGDM="2")]
    found = [(i, p.code) for i, p in validate_records(records)]
    assert sorted(found) == [
        (1, "rule.completion_before_acceptance"),
        (1, "rule.return_needs_reason"),
    ]


def test_set_checker_ignores_unusable_times_and_counts_cases() -> None:
    checker: RecordSetChecker[str] = RecordSetChecker()
    checker.add(sl(SLSJ="not a time"), "a")
    checker.add(sl(SLSJ="2026-09-14T10:00:00"), "b")  # no offset: the schema reports it
    checker.add(bj(SBLSH=7), "c")
    checker.add(bj(), "d")
    assert list(checker.problems()) == [] and len(checker) == 1
