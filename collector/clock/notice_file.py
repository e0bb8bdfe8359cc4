"""The yearly holiday notice file: a TOML transcription of the State Council's notice
(国务院办公厅关于 XXXX 年部分节假日安排的通知) turned into calendar rows for that year.

Format (see docs/clock.md and notices/2026.toml)::

    year = 2026
    reference = "国务院办公厅关于2026年部分节假日安排的通知（2025-11-04）"

    [[holiday]]
    name = "元旦"
    from = 2026-01-01          # first rest day (TOML date or "YYYY-MM-DD")
    to = 2026-01-03            # last rest day
    work = [2026-01-04]        # adjusted working days (调休上班) for this holiday, may be []

Every date of the year becomes a row: holiday dates rest, adjusted working days work, other
Saturdays and Sundays rest, other dates work. :func:`parse_notice` is pure (text in);
:func:`load_notice_file` reads a file and calls it.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from collector.clock.calendar import CalendarRow
from collector.clock.errors import NoticeFileError

_TOP_KEYS = ("year", "reference", "holiday")
_HOLIDAY_KEYS = ("name", "from", "to", "work")


@dataclass(frozen=True, slots=True)
class NoticeHoliday:
    """One holiday of the notice: its rest days and its adjusted working days."""

    name: str
    first: date
    last: date
    workdays: tuple[date, ...]


@dataclass(frozen=True, slots=True)
class HolidayNotice:
    """A parsed notice for one year."""

    year: int
    reference: str
    holidays: tuple[NoticeHoliday, ...]

    def rows(self) -> list[CalendarRow]:
        """Every date of the year as a calendar row, with the notice as its source."""
        rest: dict[date, str] = {}
        work: dict[date, str] = {}
        for holiday in self.holidays:
            day = holiday.first
            while day <= holiday.last:
                rest[day] = holiday.name
                day += timedelta(days=1)
            for workday in holiday.workdays:
                work[workday] = holiday.name
        rows: list[CalendarRow] = []
        day = date(self.year, 1, 1)
        while day.year == self.year:
            if day in rest:
                rows.append(CalendarRow(day, False, rest[day], self.reference))
            elif day in work:
                rows.append(CalendarRow(day, True, work[day], self.reference))
            else:
                rows.append(CalendarRow(day, day.weekday() < 5, None, self.reference))
            day += timedelta(days=1)
        return rows


class _Locator:
    """Finds the line of a problem in the original text, for messages people can act on."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.holiday_lines = [
            i + 1 for i, line in enumerate(self.lines) if line.strip().startswith("[[holiday]]")
        ]

    def top(self, key: str) -> int:
        for i, line in enumerate(self.lines):
            stripped = line.strip()
            if stripped.startswith("[["):
                break
            if stripped.split("=")[0].strip() == key:
                return i + 1
        return 0

    def in_holiday(self, index: int, needle: str) -> int:
        if index >= len(self.holiday_lines):
            return 0
        start = self.holiday_lines[index]
        stop = (
            self.holiday_lines[index + 1] - 1
            if index + 1 < len(self.holiday_lines)
            else len(self.lines)
        )
        for number in range(start, stop + 1):
            line = self.lines[number - 1]
            if needle and needle in line.split("#")[0]:
                return number
        return start


def _unknown_key(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return hint + "known keys: " + ", ".join(known)


def _as_date(value: Any) -> date | None:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def parse_notice(text: str, source: str = "<notice>") -> HolidayNotice:
    """Parse a notice file's text; raises NoticeFileError naming the line and a fix."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has the position only in its text.
        found = re.search(r"at line (\d+)", str(exc))
        line = int(found.group(1)) if found else 0
        raise NoticeFileError(
            source,
            line,
            f"不是有效的 TOML：{exc}",
            f"not valid TOML: {exc}",
            "check quotes, brackets and '=' on that line (dates as 2026-01-01 or \"2026-01-01\")",
        ) from exc
    where = _Locator(text)

    for key in data:
        if key not in _TOP_KEYS:
            raise NoticeFileError(
                source,
                where.top(key),
                f"未知的键 {key!r}",
                f"unknown key {key!r}",
                _unknown_key(key, _TOP_KEYS),
            )
    year = data.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
        raise NoticeFileError(
            source,
            where.top("year"),
            f"year 必须是 2000 到 2100 之间的整数，实际为 {year!r}",
            f"year must be a whole number between 2000 and 2100, got {year!r}",
            "write e.g. year = 2027 at the top of the file",
        )
    reference = data.get("reference")
    if not isinstance(reference, str) or not reference.strip():
        raise NoticeFileError(
            source,
            where.top("reference"),
            "缺少 reference（通知名称及发布日期）",
            "reference (the notice's title and date) is missing or empty",
            'write e.g. reference = "国务院办公厅关于2027年部分节假日安排的通知（2026-11-xx）"',
        )
    raw_holidays = data.get("holiday")
    if not isinstance(raw_holidays, list) or not raw_holidays:
        raise NoticeFileError(
            source,
            0,
            "没有任何 [[holiday]] 节",
            "no [[holiday]] section found",
            "add one [[holiday]] section per holiday of the notice (name, from, to, work)",
        )

    holidays: list[NoticeHoliday] = []
    taken: dict[date, str] = {}  # every date already named by an earlier holiday
    for index, raw in enumerate(raw_holidays):
        if not isinstance(raw, dict):
            raise NoticeFileError(
                source, 0, "holiday 必须是 [[holiday]] 节", "holiday must be [[holiday]] tables"
            )
        holidays.append(_parse_holiday(raw, index, year, taken, where, source))
    return HolidayNotice(year, reference.strip(), tuple(holidays))


def _parse_holiday(
    raw: dict[str, Any],
    index: int,
    year: int,
    taken: dict[date, str],
    where: _Locator,
    source: str,
) -> NoticeHoliday:
    number = index + 1
    for key in raw:
        if key not in _HOLIDAY_KEYS:
            raise NoticeFileError(
                source,
                where.in_holiday(index, key),
                f"第 {number} 个 [[holiday]] 有未知的键 {key!r}",
                f"holiday #{number} has an unknown key {key!r}",
                _unknown_key(key, _HOLIDAY_KEYS),
            )
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise NoticeFileError(
            source,
            where.in_holiday(index, "name"),
            f"第 {number} 个 [[holiday]] 缺少 name（节日名称）",
            f"holiday #{number} has no name",
            'write e.g. name = "春节" (the name used in the notice)',
        )
    name = name.strip()

    def need_date(key: str, value: Any) -> date:
        day = _as_date(value)
        line = where.in_holiday(index, key)
        if day is None:
            raise NoticeFileError(
                source,
                line,
                f"{name} 的 {key} 不是日期：{value!r}",
                f"{name}: {key} is not a date: {value!r}",
                f'write {key} = {year}-MM-DD (a TOML date) or "{year}-MM-DD"',
            )
        if day.year != year:
            raise NoticeFileError(
                source,
                line,
                f"{name} 的日期 {day} 不在 {year} 年",
                f"{name}: date {day} is not in {year}",
                f"this file holds {year} only; put dates of {day.year} in the {day.year} file",
            )
        return day

    first = need_date("from", raw.get("from"))
    last = need_date("to", raw.get("to"))
    if last < first:
        raise NoticeFileError(
            source,
            where.in_holiday(index, "to"),
            f"{name} 的 to（{last}）早于 from（{first}）",
            f"{name}: to ({last}) is before from ({first})",
            "from is the first rest day, to the last one",
        )
    raw_work = raw.get("work", [])
    if not isinstance(raw_work, list):
        raise NoticeFileError(
            source,
            where.in_holiday(index, "work"),
            f"{name} 的 work 必须是日期列表",
            f"{name}: work must be a list of dates",
            "write work = [2026-02-14, 2026-02-28] or work = [] when there is none",
        )
    workdays = tuple(need_date("work", value) for value in raw_work)

    day = first
    while day <= last:
        if day in taken:
            raise NoticeFileError(
                source,
                where.in_holiday(index, "from"),
                f"{name} 的放假日期 {day} 已被 {taken[day]} 使用",
                f"{name}: rest day {day} is already used by {taken[day]}",
                "holiday ranges must not overlap; check the dates against the notice",
            )
        taken[day] = name
        day += timedelta(days=1)
    for workday in workdays:
        line = where.in_holiday(index, workday.isoformat())
        if workday in taken:
            raise NoticeFileError(
                source,
                line,
                f"{name} 的调休上班日 {workday} 同时是 {taken[workday]} 的日期",
                f"{name}: adjusted working day {workday} is also a date of {taken[workday]}",
                "a date is either a rest day or an adjusted working day; check the notice",
            )
        if workday.weekday() < 5:
            raise NoticeFileError(
                source,
                line,
                f"{name} 的调休上班日 {workday} 不是周六或周日",
                f"{name}: adjusted working day {workday} is not a Saturday or Sunday",
                "list under work only the weekend days the notice says are worked (上班)",
            )
        taken[workday] = name
    return NoticeHoliday(name, first, last, workdays)


def load_notice_file(path: Path) -> HolidayNotice:
    """Read and parse a notice file (UTF-8)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NoticeFileError(
            str(path),
            0,
            f"无法读取文件：{exc}",
            f"cannot read the file: {exc}",
            "check the path and that the file is saved as UTF-8",
        ) from exc
    return parse_notice(text, str(path))


def bundled_notice_text(year: int) -> str | None:
    """The text of a notice file shipped in collector/clock/notices/, or None."""
    path = Path(__file__).with_name("notices") / f"{year}.toml"
    return path.read_text(encoding="utf-8") if path.is_file() else None
