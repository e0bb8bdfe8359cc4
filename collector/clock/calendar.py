"""The working-day calendar: which dates are working days (工作日), and arithmetic on them.

A :class:`WorkCalendar` holds one :class:`DayInfo` per date for the years it covers (whole
years only). Dates in other years fall back to weekends-only (Monday-Friday work) and every
result that touched such a date says ``provisional=True``; nothing here raises for an
unknown year, because a deadline in next year must still be computed before the State
Council publishes next year's notice.

Counting rule used everywhere: ``workdays_between(a, b)`` counts the working days ``d`` with
``a < d <= b`` (the start date itself never counts, like the acceptance date), and
``add_workdays(start, n)`` is the date on which that count reaches ``n``.

Speed: a cumulative count of working days (and of unknown days) over the covered range turns
both operations into a few list look-ups and one bisect; outside that range the weekday rule
is arithmetic.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType

from collector.clock.errors import CalendarError

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class DayInfo:
    """What the calendar knows about one date.

    ``name`` is the Chinese name of the holiday the date belongs to: set on the holiday's
    rest days and on the adjusted working days (调休) worked to make up for it, None on
    ordinary days. ``source`` names where the row came from (a notice reference, or
    ``chinese-calendar <version>``).
    """

    is_workday: bool
    name: str | None
    source: str


@dataclass(frozen=True, slots=True)
class CalendarRow:
    """One stored row of the calendar table."""

    day: date
    is_workday: bool
    name: str | None
    source: str


@dataclass(frozen=True, slots=True)
class WorkdayResult:
    """A date computed by the calendar; provisional when it touched a year with no data."""

    date: date
    provisional: bool


@dataclass(frozen=True, slots=True)
class WorkdayCount:
    """A number of working days; provisional when it touched a year with no data."""

    count: int
    provisional: bool


def weekday_rule(day: date) -> bool:
    """The fallback for years with no calendar data: Monday to Friday are working days."""
    return day.weekday() < 5


def _weekdays_upto(ordinal: int) -> int:
    """Number of Monday-Friday dates with ordinal 1..ordinal (ordinal 1 is a Monday)."""
    weeks, rest = divmod(ordinal, 7)
    return weeks * 5 + min(rest, 5)


def _add_weekdays(start: date, n: int) -> date:
    """The n-th Monday-Friday date after start (n >= 1)."""
    weeks, rest = divmod(n, 5)
    if rest == 0:
        # Land on a weekday: count the last week day by day instead of jumping onto start's
        # own weekday, which may be a weekend.
        weeks, rest = weeks - 1, 5
    day = start + timedelta(days=7 * weeks)
    while rest:
        day += _ONE_DAY
        if day.weekday() < 5:
            rest -= 1
    return day


def rows_version(rows: Iterable[CalendarRow]) -> str:
    """A content hash of calendar rows, usable as a calendar version."""
    digest = hashlib.sha256()
    for row in sorted(rows, key=lambda r: r.day):
        line = f"{row.day.isoformat()}|{int(row.is_workday)}|{row.name or ''}|{row.source}\n"
        digest.update(line.encode("utf-8"))
    return "sha256:" + digest.hexdigest()[:16]


class WorkCalendar:
    """An immutable working-day calendar for a set of whole years, with a version."""

    __slots__ = ("_base", "_cum_unknown", "_cum_work", "_days", "_end", "_version", "_years")

    def __reduce__(self) -> tuple[type[WorkCalendar], tuple[dict[date, DayInfo], str]]:
        # Rebuilt from its days in the receiving process (sweep workers): the read-only
        # mapping view cannot be pickled, and the indexes are cheaper to rebuild than to send.
        return (WorkCalendar, (dict(self._days), self._version))

    def __init__(self, days: Mapping[date, DayInfo], version: str) -> None:
        years = sorted({d.year for d in days})
        for year in years:
            expected = (date(year + 1, 1, 1) - date(year, 1, 1)).days
            found = sum(1 for d in days if d.year == year)
            if found != expected:
                raise CalendarError(
                    f"{year} 年的日历不完整：有 {found} 天，应有 {expected} 天",
                    f"the calendar of {year} is incomplete: {found} dates instead of {expected}",
                    f"import the whole year (every date of {year}), e.g. from the year's "
                    "notice file, or remove that year's rows so it falls back to weekends",
                )
        self._days: Mapping[date, DayInfo] = MappingProxyType(dict(days))
        self._version = version
        self._years = frozenset(years)
        # Index over [1 Jan of the first year, 31 Dec of the last]; gaps between covered
        # years inside that range use the weekday rule and count as unknown.
        if years:
            self._base = date(years[0], 1, 1).toordinal()
            self._end = date(years[-1], 12, 31).toordinal()
        else:
            self._base, self._end = 1, 0
        cum_work = [0]
        cum_unknown = [0]
        work = unknown = 0
        for ordinal in range(self._base, self._end + 1):
            day = date.fromordinal(ordinal)
            info = self._days.get(day)
            if info is None:
                unknown += 1
                work += weekday_rule(day)
            else:
                work += info.is_workday
            cum_work.append(work)
            cum_unknown.append(unknown)
        # cum_work[i] = working days among the first i dates of the range.
        self._cum_work = cum_work
        self._cum_unknown = cum_unknown

    @classmethod
    def from_rows(
        cls, rows: Iterable[CalendarRow], version: str | int | None = None
    ) -> WorkCalendar:
        """Build a calendar from stored rows; the version (e.g. the store's revision number)
        defaults to a hash of the rows."""
        row_list = list(rows)
        days: dict[date, DayInfo] = {}
        for row in row_list:
            if row.day in days:
                raise CalendarError(
                    f"日期 {row.day} 出现了两次",
                    f"date {row.day} appears twice in the calendar rows",
                    "keep exactly one row per date",
                )
            days[row.day] = DayInfo(row.is_workday, row.name, row.source)
        return cls(days, str(version) if version is not None else rows_version(row_list))

    # -- what the calendar holds -------------------------------------------------------------

    @property
    def version(self) -> str:
        return self._version

    @property
    def years(self) -> frozenset[int]:
        """The years with calendar data."""
        return self._years

    @property
    def days(self) -> Mapping[date, DayInfo]:
        """Read-only map of every covered date to its DayInfo."""
        return self._days

    def rows(self) -> list[CalendarRow]:
        """The calendar as rows sorted by date (for storing or comparing)."""
        return [
            CalendarRow(d, info.is_workday, info.name, info.source)
            for d, info in sorted(self._days.items())
        ]

    def is_known(self, day: date) -> bool:
        """True when the year of ``day`` has calendar data."""
        return day.year in self._years

    def day_info(self, day: date) -> DayInfo | None:
        return self._days.get(day)

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` is a working day (weekday rule in a year with no data)."""
        info = self._days.get(day)
        return weekday_rule(day) if info is None else info.is_workday

    def with_rows(
        self, rows: Iterable[CalendarRow], version: str | int | None = None
    ) -> WorkCalendar:
        """A new calendar where ``rows`` (whole years) replace the same dates of this one."""
        merged = {r.day: r for r in self.rows()}
        merged.update({r.day: r for r in rows})
        return WorkCalendar.from_rows(merged.values(), version)

    # -- arithmetic --------------------------------------------------------------------------

    def _count_upto(self, ordinal: int) -> tuple[int, int]:
        """(working days, unknown days) among dates with ordinal <= ordinal, from ordinal 1."""
        if ordinal < self._base:
            return _weekdays_upto(ordinal), ordinal
        before_work = _weekdays_upto(self._base - 1)
        before_unknown = self._base - 1
        if ordinal <= self._end:
            i = ordinal - self._base + 1
            return before_work + self._cum_work[i], before_unknown + self._cum_unknown[i]
        i = self._end - self._base + 1
        after_work = _weekdays_upto(ordinal) - _weekdays_upto(self._end)
        return (
            before_work + self._cum_work[i] + after_work,
            before_unknown + self._cum_unknown[i] + (ordinal - self._end),
        )

    def workdays_between(self, start: date, end: date) -> WorkdayCount:
        """Working days d with start < d <= end (0 when end <= start)."""
        if end <= start:
            return WorkdayCount(0, False)
        work_a, unknown_a = self._count_upto(start.toordinal())
        work_b, unknown_b = self._count_upto(end.toordinal())
        return WorkdayCount(work_b - work_a, unknown_b > unknown_a)

    def unknown_between(self, start: date, end: date) -> bool:
        """Whether any date d with start < d <= end lies in a year with no data."""
        if end <= start:
            return False
        return self._count_upto(end.toordinal())[1] > self._count_upto(start.toordinal())[1]

    def add_workdays(self, start: date, n: int) -> WorkdayResult:
        """The date that is ``n`` working days after ``start`` (day 1 = first working day
        after start); ``n == 0`` gives ``start`` itself."""
        if n < 0:
            raise CalendarError(
                f"工作日数不能为负数：{n}",
                f"a number of working days cannot be negative: {n}",
                "pass n >= 0",
            )
        if n == 0:
            return WorkdayResult(start, False)
        ordinal = start.toordinal()
        if ordinal < self._base:
            # Before the covered range: weekday rule up to the day before the range.
            available = _weekdays_upto(self._base - 1) - _weekdays_upto(ordinal)
            if n <= available:
                return WorkdayResult(_add_weekdays(start, n), True)
            n -= available
            index = 0
            # Only days after start count: the day before the range is not passed over.
            touched_unknown = ordinal < self._base - 1
        elif ordinal <= self._end:
            index = ordinal - self._base + 1
            touched_unknown = False
        else:
            return WorkdayResult(_add_weekdays(start, n), True)
        # Within the range: find the first position whose cumulative count reaches target.
        target = self._cum_work[index] + n
        found = bisect_left(self._cum_work, target, lo=index)
        if found < len(self._cum_work):
            result = date.fromordinal(self._base + found - 1)
            unknown = self._cum_unknown[found] > self._cum_unknown[index]
            return WorkdayResult(result, touched_unknown or unknown)
        # Past the range: weekday rule for what is left.
        last = len(self._cum_work) - 1
        left = target - self._cum_work[last]
        return WorkdayResult(_add_weekdays(date.fromordinal(self._end), left), True)

    def subtract_workdays(self, end: date, n: int) -> WorkdayResult:
        """The latest date ``x`` with ``workdays_between(x, end) == n`` that is a working
        day (or ``end`` itself for n == 0): e.g. the warning day ``n`` working days before a
        deadline."""
        if n < 0:
            raise CalendarError(
                f"工作日数不能为负数：{n}",
                f"a number of working days cannot be negative: {n}",
                "pass n >= 0",
            )
        day = end
        provisional = not self.is_known(end)
        counted = 0
        while counted < n:
            # The n-th working day back from end, counting end itself when it works.
            if self.is_workday(day):
                counted += 1
            day -= _ONE_DAY
            provisional = provisional or not self.is_known(day)
        while n and not self.is_workday(day):
            day -= _ONE_DAY
            provisional = provisional or not self.is_known(day)
        return WorkdayResult(day, provisional)

    def next_workday_on_or_after(self, day: date) -> WorkdayResult:
        """``day`` when it is a working day, otherwise the next working day."""
        return self.add_workdays(day - _ONE_DAY, 1)


def check_next_year(calendar: WorkCalendar, today: date) -> str | None:
    """A warning for the operator when calendar data is missing, else None.

    From 1 December the next year must be present (the State Council publishes its notice
    in November); the current year must always be present.
    """
    missing: list[int] = []
    if today.year not in calendar.years:
        missing.append(today.year)
    if today.month == 12 and today.year + 1 not in calendar.years:
        missing.append(today.year + 1)
    if not missing:
        return None
    years = "、".join(str(y) for y in missing)
    years_en = ", ".join(str(y) for y in missing)
    return (
        f"工作日历缺少 {years} 年的数据：期限将按仅周末休息临时计算（标记为临时）。"
        f"请导入国务院办公厅 {years} 年节假日安排通知。 / "
        f"The working-day calendar has no data for {years_en}: deadlines there are computed "
        f"with weekends only and marked provisional. Import the State Council's holiday "
        f"notice for {years_en} (see docs/clock.md, notice file format)."
    )
