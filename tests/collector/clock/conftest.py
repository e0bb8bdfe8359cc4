"""Calendars shared by the clock tests: seeded from chinese_calendar, and from the 2026
notice file shipped with the package."""

from __future__ import annotations

import pytest

from collector.clock import WorkCalendar, bundled_notice_text, parse_notice, seed_rows


@pytest.fixture(scope="session")
def seed_calendar() -> WorkCalendar:
    """2024-2026 from chinese_calendar (2027 is missing, as it is today)."""
    return WorkCalendar.from_rows(seed_rows(range(2024, 2027)))


@pytest.fixture(scope="session")
def notice_calendar() -> WorkCalendar:
    """2026 only, from collector/clock/notices/2026.toml."""
    text = bundled_notice_text(2026)
    assert text is not None
    return WorkCalendar.from_rows(parse_notice(text, "2026.toml").rows())


@pytest.fixture(scope="session", params=["seed", "notice"])
def calendar_2026(
    request: pytest.FixtureRequest, seed_calendar: WorkCalendar, notice_calendar: WorkCalendar
) -> WorkCalendar:
    """The same 2026 facts from both sources: every example runs on each."""
    return seed_calendar if request.param == "seed" else notice_calendar
