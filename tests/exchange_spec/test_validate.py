"""validate_record: the messages people read, and the fast path agreeing with the explanation."""

from __future__ import annotations

from collections import UserDict
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_spec import is_valid, validate_record, version
from exchange_spec.records import RECORD_TYPES

SL = {
    "spec": "1.0",
    "type": "SL",
    "SBLSH": "430700SCJ20260914001",
    "SXBM": "11430700MB1534211G300011111700001",
    "BMBM": "11430700MB1534211G",
    "XZQHDM": "430700",
    "SJBBH": 1,
    "SLZTDM": "1",
    "SLSJ": "2026-09-14T10:05:31+08:00",
}


def codes(record: Any) -> list[tuple[str, str]]:
    return [(p.code, p.path) for p in validate_record(record)]


def test_valid_record_has_no_problem() -> None:
    assert validate_record(SL) == [] and is_valid(SL)


def test_missing_field_message_names_the_field_in_both_languages() -> None:
    record = {k: v for k, v in SL.items() if k != "SLSJ"}
    [problem] = validate_record(record)
    assert problem.message_zh == "SL 记录缺少必填字段 SLSJ(受理时间)"
    assert problem.message_en == "SL record is missing required field SLSJ (acceptance time)"
    assert (problem.code, problem.path, problem.record_type) == ("schema.required", "SLSJ", "SL")


def test_enum_message_lists_the_codes_with_labels() -> None:
    [problem] = validate_record(dict(SL, SLZTDM="9"))
    assert problem.code == "schema.enum" and problem.path == "SLZTDM"
    assert "1 受理、2 不受理、3 补齐补正材料、4 不予受理" in problem.message_zh
    assert "4 refused" in problem.message_en


def test_integer_code_is_explained_as_a_string_code() -> None:
    [problem] = validate_record(dict(SL, SLZTDM=1))
    assert problem.code == "schema.enum"
    assert 'write "1"' in problem.message_en and '"1"' in problem.message_zh


def test_unknown_field_is_named() -> None:
    [problem] = validate_record(dict(SL, AGENT_SEQ=7))
    assert (problem.code, problem.path) == ("schema.unknown_field", "AGENT_SEQ")
    assert "AGENT_SEQ" in problem.message_zh and "esup-spec show SL" in problem.message_en


def test_every_problem_of_a_record_is_reported() -> None:
    record = {k: v for k, v in SL.items() if k != "SLSJ"}
    record.update(XZQHDM="43070", SJBBH=0, FOO="x", SLZTDM="4")
    found = set(codes(record))
    assert found == {
        ("schema.required", "SLSJ"),
        ("schema.format", "XZQHDM"),
        ("schema.range", "SJBBH"),
        ("schema.unknown_field", "FOO"),
        ("rule.refusal_needs_reason", "BSLYY"),
    }


def test_a_field_with_a_schema_problem_gets_no_rule_problem_too() -> None:
    # "  " breaks the SBLSH pattern and is a placeholder: one cause, reported once
    assert codes(dict(SL, SBLSH="  ")) == [("schema.format", "SBLSH")]


def test_envelope_problems() -> None:
    assert codes(["SL"]) == [("schema.not_object", "")]
    assert codes({k: v for k, v in SL.items() if k != "type"}) == [("schema.record_type", "type")]
    assert codes(dict(SL, type="XX")) == [("schema.record_type", "type")]
    assert codes({k: v for k, v in SL.items() if k != "spec"}) == [("schema.spec", "spec")]
    assert codes(dict(SL, spec="2.0")) == [("schema.spec", "spec")]
    assert not is_valid(dict(SL, spec="2.0")) and not is_valid(["SL"])  # type: ignore[arg-type]


def test_a_mapping_that_is_not_a_dict_is_validated() -> None:
    assert validate_record(UserDict(SL)) == []
    assert codes(UserDict(dict(SL, SLZTDM="9"))) == [("schema.enum", "SLZTDM")]


def test_whole_floats_are_integers_everywhere() -> None:
    # JSON Schema counts 2.0 as an integer; the version must then read 2, not 1
    record = dict(SL, SJBBH=2.0)
    assert validate_record(record) == []
    assert version(record) == 2
    assert codes(dict(SL, SJBBH=2.5)) == [("schema.type", "SJBBH")]


def test_null_says_to_leave_the_field_out() -> None:
    [problem] = validate_record(dict(SL, BLRXM=None))
    assert (problem.code, problem.path) == ("schema.type", "BLRXM")
    assert "省略该字段" in problem.message_zh and "leave the field out" in problem.message_en


def test_a_trailing_newline_breaks_the_form_in_both_validators() -> None:
    # Python's "$" would match before it; JSON Schema's does not
    assert codes(dict(SL, SLSJ=SL["SLSJ"] + "\n")) == [("schema.format", "SLSJ")]
    assert codes(dict(SL, SBLSH="430700SCJ\n")) == [("schema.format", "SBLSH")]


def test_booleans_are_not_numbers() -> None:
    assert codes(dict(SL, SJBBH=True)) == [("schema.type", "SJBBH")]


# --- the fast path and the explanation agree on random damage to valid records ----------

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=40),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["", "无", "1", "4", "G", "Z", "A", "430700", "2026-02-30T10:00:00+08:00"]),
    st.sampled_from(["2026-09-24T10:00:00", "2026-09-24T10:00:00Z", "2026-09-24", "x y"]),
    st.sampled_from(["2026-09-24T10:00:00+08:00\n", "430700\n", "a\n", "2026-09-24\n"]),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    rtype=st.sampled_from(RECORD_TYPES),
    value=VALUES,
    drop=st.booleans(),
)
def test_fast_path_agrees_with_explanation(
    data: st.DataObject,
    rtype: str,
    value: Any,
    drop: bool,
    one_of_each: dict[str, dict[str, Any]],
) -> None:
    record = dict(one_of_each[rtype])
    field = data.draw(st.sampled_from([*sorted(record), "EXTRA"]))
    if drop:
        record.pop(field, None)
    else:
        record[field] = value
    problems = validate_record(record)
    assert is_valid(record) == (problems == [])
    for problem in problems:
        assert problem.message_zh and problem.message_en and problem.code
        assert problem.code != "schema.invalid", problem  # every failure gets real words
