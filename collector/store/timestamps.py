"""UTC times in and out of the store (SQLite hands back naive datetimes)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

#: The time people read: Beijing time to the minute (the store keeps exact UTC instants).
_BEIJING = ZoneInfo("Asia/Shanghai")


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """Treat a naive datetime from the store as UTC; keep aware ones as they are."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def beijing_minute(value: datetime | None) -> str:
    """A stored instant as people read it: Beijing time to the minute ("-" when unknown)."""
    moment = as_utc(value)
    return moment.astimezone(_BEIJING).strftime("%Y-%m-%d %H:%M") if moment else "-"
