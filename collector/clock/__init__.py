"""The working-day calendar and the case clock (pure; the store and verdicts use them).

- :class:`WorkCalendar` — dates -> working day or not, versioned; ``add_workdays`` etc.
- :func:`seed_rows` — calendar rows from the chinese_calendar package.
- :func:`parse_notice` / :func:`load_notice_file` — the yearly State Council notice file.
- :func:`check_next_year` — the operator's warning when next year's calendar is missing.
- :func:`evaluate` — the clock of one case -> :class:`CaseClock`.
- :class:`ClockRules` — the versioned thresholds.
"""

from collector.clock.calendar import (
    CalendarRow,
    DayInfo,
    WorkCalendar,
    WorkdayCount,
    WorkdayResult,
    check_next_year,
    rows_version,
)
from collector.clock.clock import (
    FACT_CODES,
    SHANGHAI,
    STATES,
    CaseClock,
    Fact,
    ItemLimits,
    Limit,
    Suspension,
    evaluate,
    local_date,
)
from collector.clock.errors import (
    CalendarError,
    CaseRecordsError,
    ClockError,
    NoticeFileError,
    RulesError,
)
from collector.clock.notice_file import (
    HolidayNotice,
    NoticeHoliday,
    bundled_notice_text,
    load_notice_file,
    parse_notice,
)
from collector.clock.rules_config import ClockRules, default_rules
from collector.clock.seed import HOLIDAY_NAMES_ZH, seed_rows, seed_source, seed_years

__all__ = [
    "FACT_CODES",
    "HOLIDAY_NAMES_ZH",
    "SHANGHAI",
    "STATES",
    "CalendarError",
    "CalendarRow",
    "CaseClock",
    "CaseRecordsError",
    "ClockError",
    "ClockRules",
    "DayInfo",
    "Fact",
    "HolidayNotice",
    "ItemLimits",
    "Limit",
    "NoticeFileError",
    "NoticeHoliday",
    "RulesError",
    "Suspension",
    "WorkCalendar",
    "WorkdayCount",
    "WorkdayResult",
    "bundled_notice_text",
    "check_next_year",
    "default_rules",
    "evaluate",
    "load_notice_file",
    "local_date",
    "parse_notice",
    "rows_version",
    "seed_rows",
    "seed_source",
    "seed_years",
]
