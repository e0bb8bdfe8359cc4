"""refusal_without_reason: not accepted or refused (SLZTDM 2 or 4) with no reason (BSLYY).

Validation rejects such SL records at the door; this rule catches the ones that reach the
store anyway (older spec versions, imports); the sweep also reports rejected ones.
"""

from __future__ import annotations

from collector.engine.verdicts.anomalies.common import anomaly
from collector.engine.verdicts.case_input import Candidate, CaseInput
from exchange_spec.wording import is_placeholder


def refusal_without_reason(case: CaseInput) -> list[Candidate]:
    sl = case.one("SL")
    if sl is None:
        return []
    status = str(sl.body.get("SLZTDM", ""))
    if status in ("2", "4") and is_placeholder(sl.body.get("BSLYY")):
        return [anomaly("refusal_without_reason", SLZTDM=status, BSLYY=sl.body.get("BSLYY"))]
    return []
