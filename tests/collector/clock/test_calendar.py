"""The working-day calendar: the 2026 notice, add_workdays, the provisional fallback."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.clock import (
    CalendarError,
    CalendarRow,
    WorkCalendar,
    check_next_year,
    seed_rows,
    seed_years,
)

# Facts of the State Council notice of 2025-11-04, typed here independently of any code.
WORKING_WEEKENDS_2026 = ["01-04", "02-14", "02-28", "05-09", "09-20", "10-10"]
HOLIDAYS_2026 = {
    "元旦": ("01-01", "01-03"),
    "春节": ("02-15", "02-23"),
    "清明节": ("04-04", "04-06"),
    "劳动节": ("05-01", "05-05"),
    "端午节": ("06-19", "06-21"),
    "中秋节": ("09-25", "09-27"),
    "国庆节": ("10-01", "10-07"),
}


def d(text: str) -> date:
    return date.fromisoformat(text if len(text) == 10 else f"2026-{text}")


def notice_2026_is_workday(day: date) -> bool:
    if day in {d(x) for x in WORKING_WEEKENDS_2026}:
        return True
    for first, last in HOLIDAYS_2026.values():
        if d(first) <= day <= d(last):
            return False
    return day.weekday() < 5


def reference_add(calendar: WorkCalendar, start: date, n: int) -> tuple[date, bool]:
    """Day-by-day reference for add_workdays."""
    day, counted, provisional = start, 0, False
    while counted < n:
        day += timedelta(days=1)
        provisional = provisional or not calendar.is_known(day)
        counted += calendar.is_workday(day)
    return day, provisional


def test_chinese_calendar_agrees_with_the_2026_notice() -> None:
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert chinese_calendar.is_workday(day) == notice_2026_is_workday(day), day
        day += timedelta(days=1)


def test_seed_rows_cover_every_date_with_chinese_names() -> None:
    rows = seed_rows([2026])
    assert len(rows) == 365
    assert [r.day for r in rows] == sorted({r.day for r in rows})
    named = {r.name for r in rows if r.name}
    assert named == set(HOLIDAYS_2026)
    by_day = {r.day: r for r in rows}
    assert by_day[d("10-10")].is_workday and by_day[d("10-10")].name == "国庆节"
    assert by_day[d("09-26")].name == "中秋节" and not by_day[d("09-26")].is_workday
    assert by_day[d("03-07")].name is None and not by_day[d("03-07")].is_workday  # Saturday
    assert rows[0].source.startswith("chinese-calendar ")


def test_seed_years_match_the_installed_package() -> None:
    years = seed_years()
    assert years.start == 2004 and 2026 in years
    chinese_calendar.is_workday(date(years.stop - 1, 6, 1))
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(years.stop, 6, 1))


def test_seeding_a_missing_year_is_a_clock_error_naming_it() -> None:
    with pytest.raises(CalendarError, match="2099"):
        seed_rows([2099])


def test_calendar_matches_the_notice(calendar_2026: WorkCalendar) -> None:
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert calendar_2026.is_workday(day) == notice_2026_is_workday(day), day
        day += timedelta(days=1)
    assert 2026 in calendar_2026.years


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        # The brief's example: 09-25..27 中秋, 09-28..30 days 1-3, 10-01..07 国庆, 10-08 day 4.
        ("09-24", 5, "10-09"),
        ("09-24", 3, "09-30"),
        ("09-24", 4, "10-08"),
        ("09-24", 6, "10-10"),  # Saturday 10-10 is an adjusted working day
        ("09-24", 7, "10-12"),
        ("09-18", 1, "09-20"),  # Friday -> Sunday 09-20 works
        ("02-13", 1, "02-14"),  # Friday -> Saturday 02-14 works
        ("02-14", 1, "02-24"),  # Spring Festival 02-15..23 rests
        ("02-13", 2, "02-24"),
        ("02-27", 1, "02-28"),  # Saturday 02-28 works
        ("02-28", 1, "03-02"),
        ("04-03", 1, "04-07"),
        ("04-30", 1, "05-06"),
        ("05-08", 1, "05-09"),
        ("06-18", 1, "06-22"),
        ("2025-12-31", 1, "2026-01-04"),  # across the year, 01-04 Sunday works
        ("12-25", 3, "12-30"),
        ("09-24", 0, "09-24"),
    ],
)
def test_add_workdays_across_2026_holidays(
    calendar_2026: WorkCalendar, start: str, n: int, expected: str
) -> None:
    result = calendar_2026.add_workdays(d(start), n)
    assert result.date == d(expected)
    if calendar_2026.is_known(d(start)):
        assert result.provisional is False


def test_a_deadline_into_2027_is_provisional_weekends_only(calendar_2026: WorkCalendar) -> None:
    # 2026-12-30 Wed: 12-31 Thu day 1, then 2027 has no data: Fri 01-01 counts (no holiday
    # known), Mon 01-04, Tue 01-05.
    result = calendar_2026.add_workdays(d("12-30"), 4)
    assert result == result.__class__(date(2027, 1, 5), True)
    assert calendar_2026.add_workdays(d("12-30"), 1).provisional is False
    assert calendar_2026.is_workday(date(2027, 1, 1)) is True  # fallback, not an exception
    assert calendar_2026.is_workday(date(2027, 1, 2)) is False


def test_dates_before_the_calendar_fall_back_too(notice_calendar: WorkCalendar) -> None:
    result = notice_calendar.add_workdays(date(2025, 12, 30), 2)
    # 12-31 Wed (weekday rule), then 2026-01-01..03 rest, 01-04 works.
    assert result.date == date(2026, 1, 4) and result.provisional
    assert notice_calendar.add_workdays(date(2025, 12, 1), 3).provisional
    count = notice_calendar.workdays_between(date(2025, 12, 26), date(2026, 1, 5))
    assert count.count == 5 and count.provisional  # 12-29, 30, 31, then 01-04 and 01-05


def test_workdays_between_counts_start_exclusive_end_inclusive(
    calendar_2026: WorkCalendar,
) -> None:
    assert calendar_2026.workdays_between(d("09-24"), d("10-09")).count == 5
    assert calendar_2026.workdays_between(d("09-24"), d("09-24")).count == 0
    assert calendar_2026.workdays_between(d("10-09"), d("09-24")).count == 0
    assert calendar_2026.workdays_between(d("02-13"), d("02-28")).count == 6


def test_subtract_and_next_workday(calendar_2026: WorkCalendar) -> None:
    assert calendar_2026.subtract_workdays(d("10-08"), 1).date == d("09-30")
    assert calendar_2026.subtract_workdays(d("10-12"), 1).date == d("10-10")
    assert calendar_2026.subtract_workdays(d("10-12"), 2).date == d("10-09")
    assert calendar_2026.next_workday_on_or_after(d("10-01")).date == d("10-08")
    assert calendar_2026.next_workday_on_or_after(d("10-10")).date == d("10-10")


def test_negative_days_are_refused(calendar_2026: WorkCalendar) -> None:
    with pytest.raises(CalendarError):
        calendar_2026.add_workdays(d("09-24"), -1)


def test_an_incomplete_year_is_refused() -> None:
    rows = seed_rows([2026])[:-1]
    with pytest.raises(CalendarError, match="2026") as info:
        WorkCalendar.from_rows(rows)
    assert "364" in str(info.value) and "how to fix" in str(info.value)


def test_a_duplicate_date_is_refused() -> None:
    rows = seed_rows([2026])
    with pytest.raises(CalendarError, match="2026-01-01"):
        WorkCalendar.from_rows([*rows, rows[0]])


def test_version_is_a_content_hash_unless_given() -> None:
    rows = seed_rows([2026])
    assert WorkCalendar.from_rows(rows).version == WorkCalendar.from_rows(reversed(rows)).version
    changed = [
        CalendarRow(r.day, not r.is_workday, r.name, r.source) if i == 0 else r
        for i, r in enumerate(rows)
    ]
    assert WorkCalendar.from_rows(changed).version != WorkCalendar.from_rows(rows).version
    assert WorkCalendar.from_rows(rows, "7").version == "7"


def test_with_rows_replaces_a_year() -> None:
    cal = WorkCalendar.from_rows(seed_rows([2025, 2026]))
    flipped = [CalendarRow(r.day, True, r.name, "test") for r in seed_rows([2026])]
    new = cal.with_rows(flipped)
    assert new.is_workday(d("10-01")) and not cal.is_workday(d("10-01"))
    assert new.years == {2025, 2026}


def test_an_empty_calendar_is_weekends_only_and_provisional() -> None:
    cal = WorkCalendar.from_rows([])
    result = cal.add_workdays(date(2026, 10, 1), 5)
    assert result.date == date(2026, 10, 8) and result.provisional


@pytest.mark.parametrize(
    ("today", "warns", "year"),
    [
        ("2026-11-30", False, None),
        ("2026-12-01", True, "2027"),
        ("2026-12-31", True, "2027"),
        ("2026-06-01", False, None),
        ("2027-01-02", True, "2027"),  # the current year itself missing always warns
    ],
)
def test_check_next_year(
    seed_calendar: WorkCalendar, today: str, warns: bool, year: str | None
) -> None:
    message = check_next_year(seed_calendar, date.fromisoformat(today))
    assert (message is not None) == warns
    if message is not None:
        assert year is not None and year in message and "provisional" in message


def test_check_next_year_is_quiet_when_next_year_is_present() -> None:
    cal = WorkCalendar.from_rows(seed_rows([2025, 2026]))
    assert check_next_year(cal, date(2025, 12, 15)) is None


# -- properties -----------------------------------------------------------------------------

# A calendar with a gap (2025 missing) between known years, to exercise every branch.
GAPPY = WorkCalendar.from_rows(seed_rows([2024, 2026]))
starts = st.dates(min_value=date(2022, 6, 1), max_value=date(2028, 6, 1))


@settings(max_examples=300, deadline=None)
@given(start=starts, n=st.integers(min_value=1, max_value=400))
def test_add_workdays_matches_the_day_by_day_reference(start: date, n: int) -> None:
    result = GAPPY.add_workdays(start, n)
    assert (result.date, result.provisional) == reference_add(GAPPY, start, n)


@settings(max_examples=200, deadline=None)
@given(start=starts, n=st.integers(min_value=1, max_value=300))
def test_add_workdays_lands_on_a_workday_and_grows_with_n(start: date, n: int) -> None:
    first = GAPPY.add_workdays(start, n)
    second = GAPPY.add_workdays(start, n + 1)
    assert GAPPY.is_workday(first.date) and GAPPY.is_workday(second.date)
    assert first.date < second.date
    assert GAPPY.workdays_between(start, first.date).count == n


@settings(max_examples=200, deadline=None)
@given(a=starts, b=starts)
def test_workdays_between_matches_counting(a: date, b: date) -> None:
    expected = sum(GAPPY.is_workday(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))
    unknown = any(not GAPPY.is_known(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))
    assert GAPPY.workdays_between(a, b) == GAPPY.workdays_between(a, b).__class__(expected, unknown)


def test_public_names_are_pinned() -> None:
    import collector.clock as clock

    assert set(clock.__all__) == {
        name for name in dir(clock) if not name.startswith("_") and name[0].isupper()
    } | {name for name in clock.__all__ if name[0].islower()}
    for name in ("WorkCalendar", "evaluate", "CaseClock", "ClockRules", "parse_notice"):
        assert name in clock.__all__


def test_a_start_on_the_day_before_a_known_year_is_not_provisional() -> None:
    # Found by the property above: 2023 is unknown in GAPPY, but starting on its last day
    # passes over no unknown day (2024-01-01 is a holiday, 01-02 the first working day).
    assert GAPPY.add_workdays(date(2023, 12, 31), 1) == GAPPY.add_workdays(
        date(2023, 12, 31), 1
    ).__class__(date(2024, 1, 2), False)
    assert GAPPY.add_workdays(date(2023, 12, 30), 1).provisional
