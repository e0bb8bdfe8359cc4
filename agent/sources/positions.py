"""Where a legacy row stands against a table's saved read position (its cursor).

A poll reads ``timestamp`` tables from ``reread_seconds`` behind the cursor onwards (or, with
no re-read window, from just after the cursor's (time, key)), and ``key`` tables above the
cursor's key. A row before that line is one no poll will ever read again: if the outbox never
captured it, it was lost to the polls (for instance a transaction that committed later than
the re-read window allows). ``snapshot`` tables are read whole, so no row is ever behind.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from .settings import TableSettings


def _value(row: dict[str, Any], column: str | None) -> Any:
    """A column of a row; drivers may fold the case of names."""
    if column is None:
        return None
    if column in row:
        return row[column]
    lowered = column.lower()
    return next((v for k, v in row.items() if k.lower() == lowered), None)


def _aware(value: Any, zone: ZoneInfo) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)


def row_time(table: TableSettings, row: dict[str, Any], zone: ZoneInfo) -> datetime | None:
    """The row's value of the table's timestamp column as an aware time (None: none)."""
    return _aware(_value(row, table.timestamp_column), zone)


class ReadLine:
    """The line below which a table's polls no longer read, from its saved cursor."""

    def __init__(self, table: TableSettings, cursor: dict[str, Any] | None, zone: ZoneInfo):
        self.table = table
        self.zone = zone
        self.key = cursor.get("key") if cursor else None
        self.ts: datetime | None = None
        if cursor and table.mode == "timestamp":
            self.ts = _aware(cursor.get("ts"), zone)

    def behind(self, row: dict[str, Any]) -> bool:
        """True when polls will not read ``row`` again (False when unsure)."""
        table = self.table
        key = _value(row, table.key_column)
        try:
            if table.mode == "key":
                return self.key is not None and key is not None and key <= self.key
            if table.mode != "timestamp" or self.ts is None:
                return False
            ts = row_time(table, row, self.zone)
            if ts is None:
                return False
            if table.reread_seconds > 0:
                return ts < self.ts - timedelta(seconds=table.reread_seconds)
            return ts < self.ts or (ts == self.ts and key is not None and key <= self.key)
        except TypeError:  # keys of different types: not comparable, so not known to be behind
            return False
