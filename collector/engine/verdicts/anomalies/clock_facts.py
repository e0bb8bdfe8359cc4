"""Anomalies the clock already noticed (its ``facts``): mapped to the engine's codes."""

from __future__ import annotations

from collector.clock import CaseClock
from collector.engine.verdicts.anomalies.common import anomaly
from collector.engine.verdicts.case_input import Candidate

#: clock fact code -> anomaly code
FACT_ANOMALIES = {
    "second_correction_notice": "second_correction_notice",
    "extension_over_cap": "extension_over_cap",
    "procedure_after_completion": "special_procedure_after_completion",
    "suspension_covers_case": "special_procedure_covers_case",
    "completion_without_acceptance": "orphan_record",
}


def from_clock_facts(clock: CaseClock) -> list[Candidate]:
    found: dict[str, list[dict[str, str | None]]] = {}
    for fact in clock.facts:
        code = FACT_ANOMALIES.get(fact.code)
        if code is not None:
            found.setdefault(code, []).append(fact.as_dict())
    return [anomaly(code, facts=facts) for code, facts in sorted(found.items())]
