"""The case number's structure: region + department part + serial, and the prefix rule."""

from __future__ import annotations

import pytest

from exchange_spec.case_numbers import (
    case_number_prefix,
    overlapping,
    owner_by_prefix,
    prefix_problem,
)


def test_the_prefix_is_region_and_department_part() -> None:
    assert case_number_prefix("430702", "0301") == "4307020301"
    with pytest.raises(ValueError, match="6-digit region"):
        case_number_prefix("4307", "0301")


@pytest.mark.parametrize("bad", ["430702", "43070A0301", "430702-0301", "", "4307020301 "])
def test_a_malformed_prefix_says_what_a_prefix_is(bad: str) -> None:
    problem = prefix_problem(bad)
    assert problem is not None
    assert "6 位行政区划代码" in problem[0] and "6-digit region code" in problem[1]


def test_a_case_number_belongs_to_the_department_whose_prefix_it_starts_with() -> None:
    register = {"4307020301": "D-SCJ", "4307020302": "D-ZJJ", "43070203011": "D-NARROW"}
    assert owner_by_prefix("43070203022026000001", register) == "D-ZJJ"
    assert owner_by_prefix("43070203012026000001", register) == "D-SCJ"
    assert owner_by_prefix("43070203011026000001", register) == "D-NARROW"  # the longest
    assert owner_by_prefix("43070203032026000001", register) is None
    assert owner_by_prefix("4307020301", register) is None  # the prefix alone is no case


def test_overlapping_prefixes_are_found_both_ways() -> None:
    assert overlapping("430702030", ["4307020301", "4307020302", "4307010301"]) == [
        "4307020301",
        "4307020302",
    ]
    assert overlapping("43070203011", ["4307020301"]) == ["4307020301"]
    assert overlapping("4307020303", ["4307020301"]) == []
