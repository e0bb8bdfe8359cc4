"""All rules for one case, then the suppressions: red over yellow, data silence, exemptions."""

from __future__ import annotations

from datetime import datetime, timedelta

from collector.clock import SHANGHAI, CaseClock, WorkCalendar
from collector.engine.rules_file import EngineRules
from collector.engine.verdicts import anomalies, deadlines
from collector.engine.verdicts.anomalies import ANOMALY_CODES
from collector.engine.verdicts.case_input import Candidate, CaseContext, CaseInput

__all__ = ["ANOMALY_CODES", "due_basis", "evaluate_case", "is_exempt"]


def due_basis(clock: CaseClock) -> dict[str, object]:
    """What a verdict was based on (stored with it; reassessment compares it)."""

    def iso(value: object) -> str | None:
        return value.isoformat() if value is not None else None  # type: ignore[attr-defined]

    return {
        "promised_deadline": iso(clock.promised_deadline),
        "legal_deadline": iso(clock.legal_deadline),
        "warning_on": iso(clock.warning_on),
        "state": clock.state,
        "workdays_used": clock.workdays_used,
        "provisional": clock.provisional,
    }


def is_exempt(candidate: Candidate, exempt: frozenset[str]) -> bool:
    return bool(exempt) and (
        "*" in exempt
        or candidate.rule in exempt
        or candidate.kind in exempt
        or (candidate.code != "" and candidate.code in exempt)
    )


def evaluate_case(
    case: CaseInput,
    clock: CaseClock,
    calendar: WorkCalendar,
    rules: EngineRules,
    at: datetime,
    context: CaseContext | None = None,
) -> list[Candidate]:
    """Every verdict due for ``case`` at ``at`` (pure: same inputs, same answer)."""
    context = context or CaseContext()
    today = at.astimezone(SHANGHAI).date()
    found: list[Candidate] = []
    found += deadlines.warning(clock, today)
    found += deadlines.yellow(clock, rules, calendar, today)
    found += deadlines.step_limits(case, rules, calendar, clock, today)
    found += deadlines.red(clock, rules, calendar, context, today)
    found += anomalies.from_clock_facts(clock)
    found += anomalies.refusal_without_reason(case)
    found += anomalies.abnormal_completion(case)
    found += anomalies.fee_above_permitted(case)
    found += anomalies.late_report(case, rules, calendar)
    found += anomalies.special_procedure_backdated(case, rules)

    if any(c.kind == "red" for c in found):
        # Red suppresses yellow: the case gets the heavier card only.
        found = [c for c in found if c.kind != "yellow"]
    if context.silent_since is not None:
        grace_end = context.silent_since + timedelta(hours=rules.clock.silence_grace_hours)
        if at < grace_end:
            # The department's agent is silent: its data may be late, not its work.
            found = [c for c in found if c.kind not in ("yellow", "red")]
    return [c for c in found if not is_exempt(c, context.exempt)]
