"""Legacy time texts read fast: the fixed-width formats by hand, the rest by strptime.

``datetime.strptime`` takes tens of microseconds a call (a lock, a locale check, a regex
per format), and a field lists several formats, tried in order. Most legacy times are
fixed-width digits in a handful of formats ("%Y%m%d%H%M%S", "%Y-%m-%d %H:%M:%S",
"%Y/%m/%d %H:%M", "%Y-%m-%d", ...). :class:`FixedFormat` reads those with one regular
expression and answers one of three ways:

- the time, when the text has exactly the format's width, ASCII digits and valid ranges
  (strptime gives the same time then: its two-digit alternatives come first);
- ``SURE_FAIL``, when strptime cannot match the text at all (too short or too long, a
  non-digit in the year, a different separator after the year);
- ``UNSURE`` otherwise (single-digit fields, other Unicode digits, Feb 30, second 60, ...):
  strptime decides. The rare texts are slow, never different.

:class:`TimeReader` is ``values.parse_time`` plus ``isoformat`` for one field's formats and
zone, with the zone's offset text cached per day (see ``_day_suffix``).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any, Final
from zoneinfo import ZoneInfo

from .values import AUTO_TIME_FORMATS, parse_time

SURE_FAIL: Final = False
UNSURE: Final = None
_DIRECTIVES = {"Y": 4, "m": 2, "d": 2, "H": 2, "M": 2, "S": 2}
# strptime's values for fields a format leaves out.
_DEFAULTS = {"Y": "1900", "m": "01", "d": "01", "H": "00", "M": "00", "S": "00"}
# Separators after the year whose match does not depend on case (strptime ignores case).
_PLAIN_SEPARATORS = "-/.:_,"
_CACHE_DAYS = 4096  # offset texts kept (a few hundred kB); cleared when full


class FixedFormat:
    """A strptime format of %Y %m %d %H %M %S and literal characters, read by hand."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        tokens = _tokens(fmt)
        if tokens is None:
            raise ValueError(f"{fmt!r} is not a fixed-width format")
        pattern = []
        self.fields: list[str] = []
        for kind, text in tokens:
            if kind == "directive":
                pattern.append(f"([0-9]{{{_DIRECTIVES[text]}}})")
                self.fields.append(text)
            else:
                pattern.append(re.escape(text))
        self._match = re.compile("".join(pattern)).fullmatch
        # Y m d H M S out of the groups followed by the defaults (strptime's when absent).
        self._defaults = tuple(_DEFAULTS.values())
        self._pick = itemgetter(
            *(
                self.fields.index(name) if name in self.fields else len(self.fields) + i
                for i, name in enumerate(_DEFAULTS)
            )
        )
        # strptime's regex: %Y is exactly four digits, the others one or two, a literal one
        # character, whitespace one or more (so no upper bound then).
        self.min_len = sum(4 if k == "directive" and t == "Y" else 1 for k, t in tokens)
        self.max_len: int | None = (
            None
            if any(k == "literal" and t.isspace() for k, t in tokens)
            else sum(_DIRECTIVES[t] if k == "directive" else 1 for k, t in tokens)
        )
        first = tokens[0] if tokens else ("", "")
        second = tokens[1] if len(tokens) > 1 else ("", "")
        self.year_first = first == ("directive", "Y")
        self.after_year = (
            second[1] if second[0] == "literal" and second[1] in _PLAIN_SEPARATORS else None
        )
        self.month_after_year = self.year_first and second == ("directive", "m")

    @classmethod
    def for_format(cls, fmt: str) -> FixedFormat | None:
        return cls(fmt) if _tokens(fmt) is not None else None

    def read(self, text: str) -> str | bool | None:
        """The naive ISO text ``YYYY-MM-DDTHH:MM:SS``, ``SURE_FAIL`` or ``UNSURE``."""
        found = self._match(text)
        if found is None:
            return SURE_FAIL if self._surely_fails(text) else UNSURE
        year, month, day, hour, minute, second = self._pick(found.groups() + self._defaults)
        if not (
            year != "0000"
            and "01" <= month <= "12"
            and "01" <= day <= "31"
            and hour <= "23"
            and minute <= "59"
            and second <= "59"
        ):
            return UNSURE
        if day > "28" and int(day) > _days_in_month(int(year), int(month)):
            return UNSURE
        return f"{year}-{month}-{day}T{hour}:{minute}:{second}"

    def _surely_fails(self, text: str) -> bool:
        """True only when strptime(text, fmt) cannot match the whole text."""
        n = len(text)
        if n < self.min_len or (self.max_len is not None and n > self.max_len):
            return True
        if self.year_first:
            if not text[:4].isdecimal():  # strptime's %Y is \d\d\d\d
                return True
            if self.after_year is not None and text[4] != self.after_year:
                return True
            if self.month_after_year and text[4] not in "0123456789":  # 1[0-2]|0[1-9]|[1-9]
                return True
        return False


def _tokens(fmt: str) -> list[tuple[str, str]] | None:
    """The format as directives and literal characters, or None when it is not one of ours
    (other directives, a directive twice, nothing but literals)."""
    tokens: list[tuple[str, str]] = []
    i = 0
    seen: set[str] = set()
    while i < len(fmt):
        char = fmt[i]
        if char == "%":
            if i + 1 >= len(fmt) or fmt[i + 1] not in _DIRECTIVES or fmt[i + 1] in seen:
                return None
            seen.add(fmt[i + 1])
            tokens.append(("directive", fmt[i + 1]))
            i += 2
            continue
        if char.isspace() and char != " ":
            return None  # strptime turns whitespace into \s+; keep the plain space only
        if char.isspace() and i > 0 and fmt[i - 1].isspace():
            return None
        tokens.append(("literal", char))
        i += 1
    return tokens if seen else None


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def strptime_or_none(text: str, fmt: str) -> datetime | None:
    try:
        return datetime.strptime(text, fmt)
    except ValueError:
        return None


class TimeReader:
    """``parse_time`` for one field (its formats, the mapping's zone), and its ISO text."""

    def __init__(self, zone: ZoneInfo, formats: tuple[str, ...]) -> None:
        self.zone = zone
        self.formats = formats
        self._fixed = [(fmt, FixedFormat.for_format(fmt)) for fmt in formats]
        self._auto = formats == AUTO_TIME_FORMATS
        self._suffixes: dict[str, str | None] = {}

    def _read_text(self, text: str) -> str | datetime | None:
        """The first format that reads ``text``: naive ISO text (fast) or a time."""
        for fmt, fixed in self._fixed:
            if fixed is not None:
                found = fixed.read(text)
                if found is SURE_FAIL:
                    continue
                if found is not UNSURE:
                    return found  # type: ignore[return-value]
            moment = strptime_or_none(text, fmt)
            if moment is not None:
                return moment
        if self._auto:
            try:
                return datetime.fromisoformat(text)
            except ValueError:
                return None
        return None

    def _aware(self, value: Any, found: str | datetime | None) -> datetime:
        if type(found) is str:
            return datetime.fromisoformat(found).replace(tzinfo=self.zone)
        if isinstance(found, datetime):
            return (
                found.replace(tzinfo=self.zone)
                if found.tzinfo is None
                else (found.astimezone(self.zone))
            )
        return parse_time(value, self.zone, ())  # raises the usual problem, naming value

    def iso(self, value: Any) -> str:
        """``parse_time(value, zone, formats).isoformat(timespec="seconds")``."""
        if type(value) is str:
            found = self._read_text(value.strip())
            if type(found) is str:
                return found + self._suffix(found)
            return self._aware(value, found).isoformat(timespec="seconds")
        return self.moment(value).isoformat(timespec="seconds")

    def date_iso(self, value: Any) -> str:
        """``parse_time(value, zone, formats).date().isoformat()``."""
        if type(value) is str:
            found = self._read_text(value.strip())
            if type(found) is str:
                return found[:10]  # a naive time keeps its date in the zone
            return self._aware(value, found).date().isoformat()
        return self.moment(value).date().isoformat()

    def moment(self, value: Any) -> datetime:
        """Exactly ``parse_time(value, zone, formats)``."""
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            value = str(value)  # 20260924100000 stored as a number
        if isinstance(value, str):
            return self._aware(value, self._read_text(value.strip()))
        return parse_time(value, self.zone, self.formats)

    def _suffix(self, naive: str) -> str:
        """The zone's offset as isoformat writes it after ``naive`` (``+08:00``)."""
        day = naive[:10]
        try:
            suffix = self._suffixes[day]
        except KeyError:
            if len(self._suffixes) >= _CACHE_DAYS:
                self._suffixes.clear()
            suffix = self._suffixes[day] = self._day_suffix(day)
        if suffix is None:  # the offset changes that day: ask the zone for this time
            moment = datetime.fromisoformat(naive).replace(tzinfo=self.zone)
            return moment.isoformat(timespec="seconds")[len(naive) :]
        return suffix

    def _day_suffix(self, day: str) -> str | None:
        """The offset text shared by every time of ``day``, or None when it changes that day.

        Sampled at each hour and at the day's last instant: time zones change offset at most
        once between two samples, so equal samples mean one offset all day."""
        start = datetime.fromisoformat(day).replace(tzinfo=self.zone)
        offset = start.utcoffset()
        for hour in range(1, 24):
            if (start + timedelta(hours=hour)).utcoffset() != offset:
                return None
        if (start + timedelta(days=1, microseconds=-1)).utcoffset() != offset:
            return None
        return start.isoformat(timespec="seconds")[19:]
