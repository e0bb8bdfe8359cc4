"""Reporting anomalies: records received late, special procedures dated back."""

from __future__ import annotations

from collector.clock import SHANGHAI, WorkCalendar, local_date
from collector.engine.rules_file import EngineRules
from collector.engine.verdicts.anomalies.common import anomaly
from collector.engine.verdicts.case_input import Candidate, CaseInput
from exchange_spec import event_time


def late_report(case: CaseInput, rules: EngineRules, calendar: WorkCalendar) -> list[Candidate]:
    """Records received more than ``late_report_workdays`` working days after their event."""
    allowed = rules.clock.late_report_workdays
    late: list[dict[str, object]] = []
    for record in case.records:
        when = event_time(record.body)
        if when is None:
            continue
        event_day = local_date(when, f"{record.body.get('type')}.event time")
        received_day = record.received_at.astimezone(SHANGHAI).date()
        taken = calendar.workdays_between(event_day, received_day).count
        if taken > allowed:
            late.append(
                {
                    "type": record.body.get("type"),
                    "event_time": when,
                    "received_at": record.received_at.isoformat(),
                    "workdays": taken,
                }
            )
    if not late:
        return []
    return [anomaly("late_report", allowed_workdays=allowed, records=late)]


def special_procedure_backdated(case: CaseInput, rules: EngineRules) -> list[Candidate]:
    """A special procedure reported more than ``backdate_days`` after its start date."""
    allowed = rules.clock.backdate_days
    found: list[dict[str, object]] = []
    for record in case.of_type("TBCXSQ"):
        start = local_date(record.body.get("TBCXKSRQ"), "TBCXSQ.TBCXKSRQ")
        received_day = record.received_at.astimezone(SHANGHAI).date()
        if (received_day - start).days > allowed:
            found.append(
                {
                    "XH": record.body.get("XH"),
                    "TBCXKSRQ": record.body.get("TBCXKSRQ"),
                    "received_at": record.received_at.isoformat(),
                    "days": (received_day - start).days,
                }
            )
    if not found:
        return []
    return [anomaly("special_procedure_backdated", allowed_days=allowed, procedures=found)]
