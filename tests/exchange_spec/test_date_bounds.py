"""Every time and date field is bounded (default 2000-01-01 .. 2100-12-31): a spec-valid SL
with SLSJ 9999-12-31 made the collector's calendar overflow and stopped every sweep."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from exchange_spec import DEFAULT_DATE_BOUNDS, DateBounds, is_valid, validate_record
from exchange_spec.cli import main
from exchange_spec.date_bounds import WIDEST, BadDateBounds
from exchange_spec.schema_store import fields_with_format


def _timed_fields(one_of_each: dict[str, dict[str, Any]]) -> list[tuple[str, str, bool]]:
    found = []
    for rtype in sorted(one_of_each):
        for fmt, is_time in (("time", True), ("date", False)):
            for field in fields_with_format(rtype, fmt):
                found.append((rtype, field, is_time))
    return found


def _with(record: dict[str, Any], field: str, day: str, is_time: bool) -> dict[str, Any]:
    return {**record, field: f"{day}T10:00:00+08:00" if is_time else day}


def test_the_issue_record_is_refused_naming_field_value_range_and_fix() -> None:
    record = {
        "spec": "1.0",
        "type": "SL",
        "SBLSH": "430700SCJ20260930010",
        "SXBM": "11430700MB1534211G300011111700001",
        "SXMC": "食品经营许可",
        "XZQHDM": "430700",
        "BMBM": "11430700MB1534211G",
        "BMMC": "常德市市场监督管理局",
        "SJBBH": 1,
        "SLZTDM": "1",
        "SLSJ": "9999-12-31T10:00:00+08:00",
        "GDBLSX": 3650,
        "GDBLSXDW": "G",
    }
    problems = validate_record(record)
    assert [(p.code, p.path) for p in problems] == [("rule.date_out_of_range", "SLSJ")]
    zh, en = problems[0].message_zh, problems[0].message_en
    for words in (zh, en):
        assert "SLSJ" in words and "9999-12-31T10:00:00+08:00" in words
        assert "2000-01-01" in words and "2100-12-31" in words
    assert "受理时间" in zh and "源系统" in zh
    assert "source system" in en
    assert not is_valid(record)


def test_every_time_and_date_field_of_every_type_is_bounded(
    one_of_each: dict[str, dict[str, Any]],
) -> None:
    fields = _timed_fields(one_of_each)
    assert len(fields) > 15  # SL.SLSJ, BJ.BJSJ, TBCXSQ.TBCXKSRQ, RECON.DAY, ...
    for rtype, field, is_time in fields:
        record = one_of_each[rtype]
        for day in ("9999-12-31", "2101-01-01", "1999-12-31", "0001-01-01"):
            bad = _with(record, field, day, is_time)
            codes = {(p.code, p.path) for p in validate_record(bad)}
            assert codes == {("rule.date_out_of_range", field)}, (rtype, field, day, codes)
        for day in ("2000-01-01", "2100-12-31"):
            assert validate_record(_with(record, field, day, is_time)) == [], (rtype, field, day)


def test_the_date_as_written_is_compared_whatever_the_offset() -> None:
    bounds = DEFAULT_DATE_BOUNDS
    assert bounds.admits("2100-12-31T23:59:59-12:00")  # 2101-01-01 in Shanghai: still admitted
    assert bounds.admits("2000-01-01T00:00:00+14:00")
    assert not bounds.admits("2101-01-01T00:00:00+14:00")


def test_the_validator_chooses_the_bounds(one_of_each: dict[str, dict[str, Any]]) -> None:
    old = {**one_of_each["SL"], "SLSJ": "1995-06-01T09:00:00+08:00"}
    assert [p.code for p in validate_record(old)] == ["rule.date_out_of_range"]
    archive = DateBounds(date(1990, 1, 1), date(2100, 12, 31))
    assert validate_record(old, archive) == []
    assert is_valid(old, archive)
    narrow = DateBounds(date(2020, 1, 1), date(2030, 12, 31))
    problems = validate_record(one_of_each["SL"] | {"SLSJ": "2031-01-02T09:00:00+08:00"}, narrow)
    assert [p.code for p in problems] == ["rule.date_out_of_range"]
    assert "2020-01-01" in problems[0].message_zh and "2030-12-31" in problems[0].message_en


@pytest.mark.parametrize(
    ("earliest", "latest"),
    [
        (date(1899, 12, 31), date(2100, 12, 31)),
        (date(2000, 1, 1), date(2200, 1, 1)),
        (date(2050, 1, 1), date(2040, 1, 1)),
    ],
)
def test_bounds_stay_inside_the_range_the_clock_is_proven_on(earliest: date, latest: date) -> None:
    with pytest.raises(BadDateBounds, match=r"1900-01-01 \.\. 2199-12-31"):
        DateBounds(earliest, latest)
    assert DateBounds(*WIDEST).admits("2199-12-31") and DateBounds(*WIDEST).admits("1900-01-01")


def _file(tmp_path: Path, slsj: str, one_of_each: dict[str, dict[str, Any]]) -> str:
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(one_of_each["SL"] | {"SLSJ": slsj}) + "\n", encoding="utf-8")
    return str(path)


def test_esup_spec_validate_takes_the_bounds_as_options(
    tmp_path: Path, one_of_each: dict[str, dict[str, Any]]
) -> None:
    path = _file(tmp_path, "1995-06-01T09:00:00+08:00", one_of_each)
    refused = CliRunner().invoke(main, ["validate", path])
    assert refused.exit_code == 1 and "rule.date_out_of_range" in refused.output
    assert "1995-06-01" in refused.output and "2000-01-01" in refused.output
    widened = CliRunner().invoke(main, ["validate", "--earliest", "1990-01-01", path])
    assert widened.exit_code == 0, widened.output
    narrowed = CliRunner().invoke(main, ["validate", "--earliest", "1996-01-01", path])
    assert narrowed.exit_code == 1 and "1996-01-01" in narrowed.output


@pytest.mark.parametrize(
    "options",
    [
        ["--latest", "9999-12-31"],
        ["--earliest", "yesterday"],
        ["--earliest", "2050-01-01", "--latest", "2040-01-01"],
    ],
)
def test_esup_spec_validate_refuses_bounds_it_cannot_honour(
    tmp_path: Path, one_of_each: dict[str, dict[str, Any]], options: list[str]
) -> None:
    path = _file(tmp_path, "2026-06-01T09:00:00+08:00", one_of_each)
    result = CliRunner().invoke(main, ["validate", *options, path])
    assert result.exit_code == 2
    assert "1900-01-01" in result.output and "2199-12-31" in result.output
