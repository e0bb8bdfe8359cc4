"""Fixtures of the supervision tests: the seeded 2026 calendar (holidays and adjusted days)."""

from __future__ import annotations

import pytest

from collector.clock import WorkCalendar
from collector.supervision.calendars import seeded_calendar


@pytest.fixture(scope="session")
def calendar() -> WorkCalendar:
    return seeded_calendar()
