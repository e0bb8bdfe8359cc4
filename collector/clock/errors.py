"""Exceptions of the clock package.

ClockError                 base of everything collector.clock raises (a CollectorError)
├── CalendarError          calendar rows that cannot form a calendar (incomplete year, ...)
├── NoticeFileError        a holiday notice file that is wrong (names the line and a fix)
├── RulesError             a clock rules file or dict that is wrong (names the key and a fix)
└── CaseRecordsError       case records the clock cannot read (mixed cases, naive times)

Every error carries Chinese and English words and a hint, because the bureau's operator
reads them when importing a notice or a rules file.
"""

from __future__ import annotations

from collector.errors import CollectorError


class ClockError(CollectorError):
    """Base of every error of the working-day calendar and the case clock."""

    def __init__(self, message_zh: str, message_en: str, hint: str = "") -> None:
        text = f"{message_en} / {message_zh}"
        if hint:
            text += f" — how to fix: {hint}"
        super().__init__(text)
        self.message_zh = message_zh
        self.message_en = message_en
        self.hint = hint


class CalendarError(ClockError):
    """Calendar rows cannot form a calendar."""


class NoticeFileError(ClockError):
    """A holiday notice file is wrong; ``line`` is 1-based, 0 when not known."""

    def __init__(
        self, source: str, line: int, message_zh: str, message_en: str, hint: str = ""
    ) -> None:
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message_zh}", f"{where}: {message_en}", hint)
        self.source = source
        self.line = line


class RulesError(ClockError):
    """A clock rules file or mapping is wrong."""


class CaseRecordsError(ClockError):
    """The records given to the clock cannot be read as one case."""
