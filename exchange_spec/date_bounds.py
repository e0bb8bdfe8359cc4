"""The range of dates a record may carry: 2000-01-01 .. 2100-12-31 unless the validator widens it.

The schema's pattern admits any four-digit year, and a date such as 9999-12-31 is a typing
slip or a placeholder ("no end"), never a case: taken at its word it would make every
deadline computation overflow. Whoever validates may move the bounds (the collector's
settings, ``esup-spec validate --earliest/--latest``), but only inside :data:`WIDEST`: the
collector's clock is proven not to fail on anything inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .errors import SpecError

#: The widest range a validator may allow (the clock is tested over all of it).
WIDEST = (date(1900, 1, 1), date(2199, 12, 31))


class BadDateBounds(SpecError):
    """Date bounds that are not a range inside :data:`WIDEST`."""


@dataclass(frozen=True)
class DateBounds:
    """Earliest and latest calendar date (as written in the record) a record may carry."""

    earliest: date = date(2000, 1, 1)
    latest: date = date(2100, 12, 31)
    _low: str = field(init=False, repr=False, compare=False)
    _high: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        low, high = WIDEST
        if not low <= self.earliest <= self.latest <= high:
            raise BadDateBounds(
                f"date bounds {self.earliest} .. {self.latest} are not a range inside "
                f"{low} .. {high}: give the earliest date first, both within that range"
            )
        # compared as text: "YYYY-MM-DD..." sorts like the dates it names
        object.__setattr__(self, "_low", self.earliest.isoformat())
        object.__setattr__(self, "_high", self.latest.isoformat())

    def admits(self, text: str) -> bool:
        """Whether the date part (first ten characters) of ``text`` lies within the bounds."""
        return self._low <= text[:10] <= self._high

    @classmethod
    def parse(cls, earliest: str | None, latest: str | None) -> DateBounds:
        """Bounds from ISO dates (None keeps the default); raises BadDateBounds."""
        default = cls()
        try:
            low = date.fromisoformat(earliest) if earliest else default.earliest
            high = date.fromisoformat(latest) if latest else default.latest
        except ValueError as exc:
            raise BadDateBounds(
                f"date bounds must be dates written YYYY-MM-DD, got {earliest!r} and {latest!r}"
            ) from exc
        return cls(low, high)


#: What every validation uses unless told otherwise.
DEFAULT_DATE_BOUNDS = DateBounds()
