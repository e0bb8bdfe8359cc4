"""What the verdict rules read: a case's records with received times, and what they produce."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """One current record of the case and when the collector received it (aware, UTC)."""

    body: Mapping[str, Any]
    received_at: datetime


@dataclass(frozen=True, slots=True)
class CaseInput:
    sblsh: str
    department: str
    records: tuple[CaseRecord, ...]
    item: Mapping[str, Any] | None = None  # the SX catalogue record of the case's SXBM
    fee_standard: float | None = None  # sum of SF SFJE for the item, when the catalogue has one

    def of_type(self, rtype: str) -> list[CaseRecord]:
        return [r for r in self.records if r.body.get("type") == rtype]

    def one(self, rtype: str) -> CaseRecord | None:
        found = self.of_type(rtype)
        return max(found, key=lambda r: int(r.body.get("SJBBH", 1))) if found else None


@dataclass(frozen=True, slots=True)
class CaseContext:
    """What the store knows beyond the records: earlier verdicts, silence, exemptions."""

    yellow_issued_on: date | None = None  # Shanghai date of a stored yellow, if any
    silent_since: datetime | None = None  # the department's data silence began (aware)
    exempt: frozenset[str] = field(default_factory=frozenset)  # rule/kind/code names or "*"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A verdict that is due; stored once per (case, rule, level)."""

    kind: str  # warning | yellow | red | anomaly
    code: str  # the anomaly code, "" otherwise
    rule: str  # "overdue", "step_limit" or the anomaly code
    level: str  # warning | yellow | red | anomaly
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, self.level)
