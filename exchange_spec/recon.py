"""Reconciliation (对账): what a RECON record counts, computed the same way on both sides.

The agent counts, per record type and day, the records its mapping makes from the legacy
database; the collector counts the current records it holds for the same department, type and
day. Both use :func:`event_day` for the day and :class:`KeyDigest` for the digest, so equal
sets of business keys give equal RECON figures wherever they are computed.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone

#: Days are counted in China Standard Time (UTC+8, no daylight saving since 1991), whatever
#: offset an event time was written with: one day means the same 24 hours on both sides.
DAY_ZONE = timezone(timedelta(hours=8))
_MODULUS = 2**256


def event_day(moment: str | None) -> date | None:
    """The day (UTC+8) of an ISO event time; a time without offset is taken as local.
    None when there is no time or it cannot be read."""
    if not moment:
        return None
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(DAY_ZONE)
    return parsed.date()


class KeyDigest:
    """An order-free digest of a set of business keys: the sum modulo 2**256 of the SHA-256
    of each key (UTF-8), as 64 lowercase hex digits. Order-free, so both sides compute it
    while streaming, without sorting; callers add each distinct key once."""

    def __init__(self) -> None:
        self._sum = 0
        self.count = 0

    @staticmethod
    def key_hash(key: str) -> bytes:
        return hashlib.sha256(key.encode("utf-8")).digest()

    def add_hash(self, digest: bytes) -> None:
        self._sum = (self._sum + int.from_bytes(digest, "big")) % _MODULUS
        self.count += 1

    def add(self, key: str) -> None:
        self.add_hash(self.key_hash(key))

    def hexdigest(self) -> str:
        return self._sum.to_bytes(32, "big").hex()
