"""Which working-day calendar a matter's deadlines are counted on.

The engine keeps versioned calendars in the store (collector.engine.calendar_store); a
verdict names the version it was computed with, and the matter counts its reply deadline on
the same one. A store without a calendar yet falls back to the seed (chinese_calendar).
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import Connection

from collector.clock import WorkCalendar, seed_rows, seed_years


@cache
def seeded_calendar() -> WorkCalendar:
    """The calendar of the chinese_calendar package (built once per process)."""
    return WorkCalendar.from_rows(seed_rows(seed_years()))


def calendar_for(conn: Connection, version: int | str | None = None) -> WorkCalendar:
    """The store's calendar ``version`` (default: the newest), else the seeded one."""
    try:
        from collector.engine.calendar_store import calendar_at, current_version
    except ImportError:  # an engine without a stored calendar
        return seeded_calendar()
    newest = current_version(conn)
    if newest is None:
        return seeded_calendar()
    wanted = int(str(version)) if str(version).isdigit() else newest
    found = calendar_at(conn, wanted if wanted <= newest else newest)
    return found if found.years else seeded_calendar()
