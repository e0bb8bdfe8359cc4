"""Verdict rules: pure functions from a case (records with received times), its clock, the
rules and the time to candidate verdicts. Storage is elsewhere (collector.engine.verdict_store).
"""

from collector.engine.verdicts.case_input import Candidate, CaseContext, CaseInput, CaseRecord
from collector.engine.verdicts.evaluate import ANOMALY_CODES, evaluate_case

__all__ = [
    "ANOMALY_CODES",
    "Candidate",
    "CaseContext",
    "CaseInput",
    "CaseRecord",
    "evaluate_case",
]
