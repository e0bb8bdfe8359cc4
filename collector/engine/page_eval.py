"""Evaluate one page of cases without I/O: clocks, verdict candidates and clock rows to store.

Pure, so the sweep can run it in worker processes: :class:`PageInputs` is what every page of
one sweep shares (sent to each worker once), a page is its cases and their stored verdicts,
and the outcome is what the sweep writes. The same function runs in-process for small sweeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from collector.clock import SHANGHAI, CaseClock, ItemLimits, WorkCalendar, evaluate
from collector.engine.rules_file import EngineRules
from collector.engine.silence import Silence
from collector.engine.verdict_store import StoredVerdict, to_issue, yellow_issued_on
from collector.engine.verdicts import Candidate, CaseContext, CaseInput, evaluate_case
from collector.engine.verdicts.evaluate import due_basis
from collector.engine.verdicts.recheck import recheck_on

#: (case, department, candidate, due basis) of a verdict to store
Pending = tuple[str, str, Candidate, dict[str, object]]


@dataclass(frozen=True)
class PageInputs:
    """What all pages of one sweep share."""

    calendar: WorkCalendar
    rules: EngineRules
    at: datetime
    silences: dict[str, Silence]
    exempt: dict[str, frozenset[str]]


@dataclass
class PageOutcome:
    cases: int = 0
    pending: list[Pending] = field(default_factory=list)
    clock_rows: list[dict[str, Any]] = field(default_factory=list)


def clock_of(
    case: CaseInput, calendar: WorkCalendar, rules: EngineRules, at: datetime
) -> CaseClock:
    limits = ItemLimits.from_sx(case.item) if case.item is not None else None
    return evaluate([r.body for r in case.records], limits, calendar, rules.clock, at)


def clock_row(
    department: str, clock: CaseClock, recheck: date | None, at: datetime
) -> dict[str, Any]:
    """The case_clocks row of a clock (the cache lists and pages read)."""
    return {
        "sblsh": clock.sblsh or "",
        "department": department,
        "state": clock.state,
        "promised_deadline": clock.promised_deadline,
        "legal_deadline": clock.legal_deadline,
        "warning_on": clock.warning_on,
        "workdays_used": clock.workdays_used,
        "provisional": clock.provisional,
        "calendar_version": int(clock.calendar_version),
        "rule_version": clock.rule_version,
        "clock": clock.as_dict(),
        "evaluated_at": at,
        "recheck_on": recheck,
    }


def evaluate_page(
    cases: list[CaseInput], stored: dict[str, list[StoredVerdict]], inputs: PageInputs
) -> PageOutcome:
    """Clocks and the verdicts to issue for ``cases``, given their ``stored`` verdicts."""
    calendar, rules, at = inputs.calendar, inputs.rules, inputs.at
    today = at.astimezone(SHANGHAI).date()
    outcome = PageOutcome(cases=len(cases))
    for case in cases:
        clock = clock_of(case, calendar, rules, at)
        prior = stored.get(case.sblsh, [])
        silence = inputs.silences.get(case.department)
        context = CaseContext(
            yellow_issued_on=yellow_issued_on(prior),
            silent_since=silence.since if silence else None,
            exempt=inputs.exempt.get(case.sblsh, frozenset()),
        )
        due = due_basis(clock)
        found = evaluate_case(case, clock, calendar, rules, at, context)
        for candidate in to_issue(found, prior):
            outcome.pending.append((case.sblsh, case.department, candidate, due))
        recheck = recheck_on(clock, rules, calendar, context, today, case)
        outcome.clock_rows.append(clock_row(case.department, clock, recheck, at))
    return outcome
