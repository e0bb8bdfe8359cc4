"""Evaluate one page of cases without I/O: clocks, verdict candidates and clock rows to store.

Pure, so the sweep can run it in worker processes: :class:`PageInputs` is what every page of
one sweep shares (sent to each worker once), a page is its cases and their stored verdicts,
and the outcome is what the sweep writes. The same function runs in-process for small sweeps.
A case that raises while being judged gets the ``unevaluable`` anomaly and a clock row saying
so; the other cases of the page are judged as usual.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from collector.clock import SHANGHAI, CaseClock, ItemLimits, WorkCalendar, evaluate
from collector.engine.rules_file import EngineRules
from collector.engine.silence import Silence
from collector.engine.verdict_store import StoredVerdict, to_issue, yellow_issued_on
from collector.engine.verdicts import Candidate, CaseContext, CaseInput, evaluate_case
from collector.engine.verdicts.evaluate import due_basis
from collector.engine.verdicts.recheck import recheck_on
from collector.engine.verdicts.unevaluable import unevaluable

logger = logging.getLogger(__name__)

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
    unevaluable: list[str] = field(default_factory=list)  # case numbers


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


def unevaluable_row(case: CaseInput, candidate: Candidate, inputs: PageInputs) -> dict[str, Any]:
    """The case_clocks row of a case that could not be evaluated: tried again the next day."""
    at = inputs.at
    return {
        "sblsh": case.sblsh,
        "department": case.department,
        "state": "unevaluable",
        "promised_deadline": None,
        "legal_deadline": None,
        "warning_on": None,
        "workdays_used": 0,
        "provisional": False,
        "calendar_version": int(inputs.calendar.version),
        "rule_version": inputs.rules.version,
        "clock": {"sblsh": case.sblsh, "state": "unevaluable", **candidate.details},
        "evaluated_at": at,
        "recheck_on": at.astimezone(SHANGHAI).date() + timedelta(days=1),
    }


def _judge(
    case: CaseInput, prior: list[StoredVerdict], inputs: PageInputs, outcome: PageOutcome
) -> None:
    calendar, rules, at = inputs.calendar, inputs.rules, inputs.at
    clock = clock_of(case, calendar, rules, at)
    silence = inputs.silences.get(case.department)
    context = CaseContext(
        yellow_issued_on=yellow_issued_on(prior),
        silent_since=silence.since if silence else None,
        exempt=inputs.exempt.get(case.sblsh, frozenset()),
    )
    due = due_basis(clock)
    found = evaluate_case(case, clock, calendar, rules, at, context)
    recheck = recheck_on(clock, rules, calendar, context, at.astimezone(SHANGHAI).date(), case)
    row = clock_row(case.department, clock, recheck, at)
    # appended only once everything is computed: a case that fails leaves nothing half-done
    outcome.pending.extend((case.sblsh, case.department, c, due) for c in to_issue(found, prior))
    outcome.clock_rows.append(row)


def evaluate_page(
    cases: list[CaseInput], stored: dict[str, list[StoredVerdict]], inputs: PageInputs
) -> PageOutcome:
    """Clocks and the verdicts to issue for ``cases``, given their ``stored`` verdicts."""
    outcome = PageOutcome(cases=len(cases))
    for case in cases:
        prior = stored.get(case.sblsh, [])
        try:
            _judge(case, prior, inputs, outcome)
        except Exception as exc:  # one case must not stop the sweep
            candidate = unevaluable(case, exc)
            logger.warning(
                "case %s cannot be evaluated (%s); anomaly 'unevaluable' issued",
                case.sblsh,
                candidate.details["error"],
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )
            basis: dict[str, object] = {"state": "unevaluable"}
            outcome.pending.extend(
                (case.sblsh, case.department, c, basis) for c in to_issue([candidate], prior)
            )
            outcome.clock_rows.append(unevaluable_row(case, candidate, inputs))
            outcome.unevaluable.append(case.sblsh)
    return outcome
