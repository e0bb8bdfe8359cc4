"""Warning, yellow and red: the deadline rules (domain.md section 3)."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from collector.clock import CaseClock, WorkCalendar, local_date
from collector.engine.rules_file import EngineRules
from collector.engine.verdicts.case_input import Candidate, CaseContext, CaseInput


def warning(clock: CaseClock, today: date) -> list[Candidate]:
    """One warning, from ``warning_on`` up to the promised deadline, while the case runs."""
    if clock.completed_on is not None or clock.promised_deadline is None:
        return []
    if clock.warning_on is not None and clock.warning_on <= today <= clock.promised_deadline:
        details = {"warning_on": clock.warning_on.isoformat(), "days_left": clock.days_left}
        return [Candidate("warning", "", "overdue", "warning", details)]
    return []


def yellow_day(clock: CaseClock, rules: EngineRules, calendar: WorkCalendar) -> date | None:
    """The first date on which the promised limit counts as passed (None: never, so far)."""
    deadline = clock.promised_deadline
    limit = clock.promised_limit
    if deadline is None or limit is None or clock.accepted_on is None:
        return None
    share = rules.clock.yellow_at_promised_share
    if share < 1.0 and limit.unit == "G":
        # Yellow once this share of the working days is used (Yulin-style 90%): the day after
        # the day on which that many working days were used, shifted like the deadline.
        used_at = math.ceil((limit.days + limit.extension_days) * share)
        short = limit.days + limit.extension_days - used_at
        early = calendar.subtract_workdays(deadline, short).date if short else deadline
        return early + timedelta(days=1)
    return deadline + timedelta(days=1)


def yellow(
    clock: CaseClock, rules: EngineRules, calendar: WorkCalendar, today: date
) -> list[Candidate]:
    day = yellow_day(clock, rules, calendar)
    if day is None:
        return []
    end = clock.completed_on if clock.completed_on is not None else today
    if end >= day:
        details = {
            "promised_deadline": clock.promised_deadline.isoformat()
            if clock.promised_deadline
            else None,
            "yellow_on": day.isoformat(),
            "completed_late": clock.completed_on is not None,
        }
        return [Candidate("yellow", "", "overdue", "yellow", details)]
    return []


def step_limits(case: CaseInput, rules: EngineRules, calendar: WorkCalendar) -> list[Candidate]:
    """Yellow when an approval step (SPCL) took longer than its configured limit."""
    if not rules.step_limits:
        return []
    sl = case.one("SL")
    if sl is None:
        return []
    previous = local_date(sl.body.get("SLSJ"), "SL.SLSJ")
    over: list[dict[str, object]] = []
    steps = sorted(case.of_type("SPCL"), key=lambda r: _step_order(r.body.get("SPBZH")))
    for step in steps:
        when = local_date(step.body.get("SPSJ"), "SPCL.SPSJ")
        code = str(step.body.get("SPHJDM", ""))
        allowed = rules.step_limits.get(code)
        if allowed is not None:
            took = calendar.workdays_between(previous, when).count
            if took > allowed:
                over.append(
                    {
                        "SPBZH": step.body.get("SPBZH"),
                        "SPHJDM": code,
                        "took": took,
                        "limit": allowed,
                    }
                )
        previous = max(previous, when)
    if not over:
        return []
    return [Candidate("yellow", "", "step_limit", "yellow", {"steps": over})]


def _step_order(value: object) -> tuple[int, str]:
    text = str(value)
    return (int(text), "") if text.isdigit() else (1 << 30, text)


def red(
    clock: CaseClock,
    rules: EngineRules,
    calendar: WorkCalendar,
    context: CaseContext,
    today: date,
) -> list[Candidate]:
    """Red when the legal limit passed, or a yellow was not corrected within N working days."""
    end = clock.completed_on if clock.completed_on is not None else today
    if clock.legal_deadline is not None and end > clock.legal_deadline:
        details = {"reason": "legal_deadline", "legal_deadline": clock.legal_deadline.isoformat()}
        return [Candidate("red", "", "overdue", "red", details)]
    since = context.yellow_issued_on or yellow_day(clock, rules, calendar)
    if since is None or since > end:
        return []
    limit = calendar.add_workdays(since, rules.clock.red_after_yellow_workdays).date
    if end > limit:
        details = {
            "reason": "yellow_not_corrected",
            "yellow_on": since.isoformat(),
            "correct_by": limit.isoformat(),
        }
        return [Candidate("red", "", "overdue", "red", details)]
    return []


def today_of(at: datetime) -> date:
    from collector.clock import SHANGHAI

    return at.astimezone(SHANGHAI).date()
