"""The yearly notice file: the shipped 2026 file reproduces the seed; mistakes are named."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from collector.clock import (
    ClockError,
    NoticeFileError,
    WorkCalendar,
    bundled_notice_text,
    load_notice_file,
    parse_notice,
    seed_rows,
)

GOOD = """\
year = 2026
reference = "test notice"

[[holiday]]
name = "国庆节"
from = 2026-10-01
to = "2026-10-07"
work = [2026-09-20, "2026-10-10"]
"""


def test_the_2026_notice_file_reproduces_the_seed_exactly() -> None:
    text = bundled_notice_text(2026)
    assert text is not None
    notice = parse_notice(text, "2026.toml")
    assert notice.year == 2026 and "2026" in notice.reference
    from_notice = [(r.day, r.is_workday, r.name) for r in notice.rows()]
    from_seed = [(r.day, r.is_workday, r.name) for r in seed_rows([2026])]
    assert from_notice == from_seed
    assert {r.source for r in notice.rows()} == {notice.reference}


def test_rows_from_a_notice_form_a_calendar(tmp_path: Path) -> None:
    path = tmp_path / "2026.toml"
    path.write_text(GOOD, encoding="utf-8")
    calendar = WorkCalendar.from_rows(load_notice_file(path).rows())
    assert calendar.years == {2026}
    assert calendar.is_workday(date(2026, 10, 10))
    assert not calendar.is_workday(date(2026, 10, 5))
    # Not named in this file: an ordinary weekday works, a Saturday rests.
    assert calendar.is_workday(date(2026, 2, 16))
    assert not calendar.is_workday(date(2026, 2, 14))


def test_bundled_notice_of_an_unshipped_year_is_none() -> None:
    assert bundled_notice_text(2099) is None


def _error(text: str) -> NoticeFileError:
    with pytest.raises(NoticeFileError) as info:
        parse_notice(text, "n.toml")
    assert isinstance(info.value, ClockError)
    assert info.value.hint  # every error says how to fix it
    return info.value


def test_invalid_toml_names_the_line() -> None:
    error = _error(GOOD.replace('to = "2026-10-07"', "to = 2026-10-07x"))
    assert error.line == 7 and "n.toml:7" in str(error)


def test_unknown_key_is_named_with_a_suggestion() -> None:
    error = _error(GOOD.replace("work =", "wrok ="))
    assert error.line == 8 and "'wrok'" in error.message_en and "work" in error.hint
    error = _error("yaer = 2026\n" + GOOD)
    assert error.line == 1 and "year" in error.hint


def test_year_and_reference_are_required() -> None:
    assert _error(GOOD.replace("year = 2026", "year = 26")).line == 1
    assert "reference" in _error(GOOD.replace('reference = "test notice"', "")).message_en
    assert "[[holiday]]" in _error('year = 2026\nreference = "x"\n').message_en


def test_a_date_of_another_year_is_refused() -> None:
    error = _error(GOOD.replace("from = 2026-10-01", "from = 2025-10-01"))
    assert error.line == 6 and "2025" in error.hint


def test_a_bad_date_is_refused() -> None:
    error = _error(GOOD.replace('to = "2026-10-07"', 'to = "2026-10-32"'))
    assert error.line == 7 and "not a date" in error.message_en


def test_to_before_from_is_refused() -> None:
    error = _error(GOOD.replace('to = "2026-10-07"', 'to = "2026-09-30"'))
    assert error.line == 7 and "before" in error.message_en


def test_an_adjusted_working_day_must_be_a_weekend_day() -> None:
    error = _error(GOOD.replace('"2026-10-10"', '"2026-10-09"'))
    assert error.line == 8 and "Saturday or Sunday" in error.message_en


def test_an_adjusted_working_day_inside_a_holiday_is_refused() -> None:
    error = _error(GOOD.replace('"2026-10-10"', '"2026-10-03"'))
    assert "also a date of" in error.message_en


def test_overlapping_holidays_are_refused() -> None:
    text = GOOD + '\n[[holiday]]\nname = "中秋节"\nfrom = 2026-10-05\nto = 2026-10-06\n'
    error = _error(text)
    assert error.line == 12 and "already used by 国庆节" in error.message_en


def test_a_holiday_without_a_name_is_refused() -> None:
    error = _error(GOOD.replace('name = "国庆节"\n', ""))
    assert "no name" in error.message_en


def test_an_unreadable_file_is_a_notice_error(tmp_path: Path) -> None:
    with pytest.raises(NoticeFileError, match="cannot read"):
        load_notice_file(tmp_path / "missing.toml")
    bad = tmp_path / "gbk.toml"
    bad.write_bytes(GOOD.encode("gbk"))
    with pytest.raises(NoticeFileError, match="UTF-8"):
        load_notice_file(bad)
