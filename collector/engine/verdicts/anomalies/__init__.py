"""Anomaly rules, one concern per module; each returns Candidates of kind "anomaly"."""

from collector.engine.verdicts.anomalies.acceptance import refusal_without_reason
from collector.engine.verdicts.anomalies.clock_facts import from_clock_facts
from collector.engine.verdicts.anomalies.completion import abnormal_completion, fee_above_permitted
from collector.engine.verdicts.anomalies.reporting import late_report, special_procedure_backdated

#: Every anomaly code the engine issues (data_silence and counts_disagree are per department:
#: see silence.py and reconcile.py).
ANOMALY_CODES = (
    "refusal_without_reason",
    "second_correction_notice",
    "extension_over_cap",
    "fee_above_permitted",
    "abnormal_completion",
    "special_procedure_after_completion",
    "special_procedure_backdated",
    "special_procedure_covers_case",
    "late_report",
    "orphan_record",
    "data_silence",
    "counts_disagree",
)

__all__ = [
    "ANOMALY_CODES",
    "abnormal_completion",
    "fee_above_permitted",
    "from_clock_facts",
    "late_report",
    "refusal_without_reason",
    "special_procedure_backdated",
]
