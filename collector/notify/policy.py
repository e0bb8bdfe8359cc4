"""When an SMS may go out: working days of the collector's calendar, office hours (Beijing
time), and a daily cap per recipient. Email and bot messages are not held back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..clock import WorkCalendar
from .errors import NotifyConfigError

BEIJING = ZoneInfo("Asia/Shanghai")
DEFAULT_WINDOWS = ((time(8, 30), time(12, 0)), (time(14, 30), time(17, 30)))


@dataclass(frozen=True)
class SmsPolicy:
    """Office-hour windows on working days, and at most ``daily_cap`` SMS per person a day."""

    windows: tuple[tuple[time, time], ...] = DEFAULT_WINDOWS
    daily_cap: int = 10

    def __post_init__(self) -> None:
        if not self.windows:
            raise NotifyConfigError("[hours] windows is empty: give at least one 'HH:MM-HH:MM'")
        previous = time(0, 0)
        for start, end in self.windows:
            if not previous <= start < end:
                raise NotifyConfigError(
                    f"[hours] window {start:%H:%M}-{end:%H:%M} is empty or overlaps the one "
                    "before: list windows in order, each start before its end"
                )
            previous = end
        if self.daily_cap < 1:
            raise NotifyConfigError(f"[hours] daily_cap={self.daily_cap}: use 1 or more")

    def next_allowed(self, at: datetime, calendar: WorkCalendar) -> datetime:
        """``at`` when an SMS may go out then, else the start of the next window (aware)."""
        local = at.astimezone(BEIJING)
        day = local.date()
        # A calendar has at most a few weeks of rest in a row; a year bounds the search.
        for _ in range(400):
            if calendar.is_workday(day):
                for start, end in self.windows:
                    window_end = datetime.combine(day, end, BEIJING)
                    if local < window_end:
                        return max(local, datetime.combine(day, start, BEIJING))
            day += timedelta(days=1)
        raise NotifyConfigError("no working day in the next 400 days: check the calendar")

    def next_day_start(self, at: datetime, calendar: WorkCalendar) -> datetime:
        """The first window after the Beijing day of ``at`` (where capped SMS wait)."""
        local_day = at.astimezone(BEIJING).date() + timedelta(days=1)
        return self.next_allowed(datetime.combine(local_day, time(0, 0), BEIJING), calendar)


def beijing_day_bounds(at: datetime) -> tuple[datetime, datetime]:
    """Start and end (exclusive) of the Beijing calendar day of ``at``, as aware datetimes."""
    day: date = at.astimezone(BEIJING).date()
    start = datetime.combine(day, time(0, 0), BEIJING)
    return start, start + timedelta(days=1)


def parse_window(text: str) -> tuple[time, time]:
    """'08:30-12:00' -> (08:30, 12:00)."""
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError as exc:
        raise NotifyConfigError(
            f"[hours] window {text!r} is not 'HH:MM-HH:MM' (e.g. '08:30-12:00')"
        ) from exc
    return start, end
