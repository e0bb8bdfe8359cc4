"""Calendar rows seeded from the ``chinese_calendar`` package (PyPI ``chinese-calendar``).

The package knows the years its release was built with (2004-2026 for 1.11) and raises
NotImplementedError for others; that becomes a CalendarError naming the year, so the caller
can seed what exists and import the rest from notice files.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import chinese_calendar

from collector.clock.calendar import CalendarRow
from collector.clock.errors import CalendarError

#: English holiday names of chinese_calendar -> the Chinese names of the State Council notice.
HOLIDAY_NAMES_ZH: dict[str, str] = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "Mid-autumn Festival": "中秋节",
    "National Day": "国庆节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


def seed_source() -> str:
    """The source reference written on seeded rows."""
    version = getattr(chinese_calendar, "__version__", "unknown")
    return f"chinese-calendar {version}"


def seed_years() -> range:
    """The years the installed chinese_calendar release can answer for."""
    first = last = None
    for year in range(2000, 2101):
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            if last is not None:
                break
            continue
        first = year if first is None else first
        last = year
    if first is None or last is None:
        return range(0)
    return range(first, last + 1)


def seed_rows(years: Iterable[int]) -> list[CalendarRow]:
    """Every date of each year with work/rest and the Chinese holiday name."""
    source = seed_source()
    rows: list[CalendarRow] = []
    for year in sorted(set(years)):
        day = date(year, 1, 1)
        while day.year == year:
            try:
                is_workday = bool(chinese_calendar.is_workday(day))
                _, english = chinese_calendar.get_holiday_detail(day)
            except NotImplementedError as exc:
                raise CalendarError(
                    f"chinese-calendar 没有 {year} 年的数据",
                    f"chinese-calendar has no data for {year} ({exc})",
                    f"import the State Council's notice for {year} as a notice file, "
                    "or upgrade chinese-calendar",
                ) from exc
            name = None
            if english is not None:
                name = HOLIDAY_NAMES_ZH.get(str(english))
                if name is None:
                    raise CalendarError(
                        f"chinese-calendar 的节日名称未知：{english}（{day}）",
                        f"unknown holiday name from chinese-calendar: {english!r} on {day}",
                        "add its Chinese name to HOLIDAY_NAMES_ZH in collector/clock/seed.py",
                    )
            rows.append(CalendarRow(day, is_workday, name, source))
            day += timedelta(days=1)
    return rows
