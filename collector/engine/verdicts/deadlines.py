"""Warning, yellow and red: the deadline rules (domain.md section 3)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from collector.clock import CaseClock, WorkCalendar, local_date
from collector.engine.rules_file import EngineRules
from collector.engine.verdicts.case_input import Candidate, CaseContext, CaseInput, CaseRecord


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


#: The step that follows each reported one (SPHJDM): 承办 -> 审核 -> 批准; "" = no SPCL yet.
_NEXT_STEP = {"": "1", "1": "2", "2": "3"}
_STEP_NAMES = {"1": "承办", "2": "审核", "3": "批准"}


@dataclass(frozen=True, slots=True)
class PendingStep:
    """The approval step a running case waits for, and when it goes over its limit."""

    code: str  # SPHJDM of the pending step
    since: date  # the later of SLSJ and the last SPSJ: day 0 of the step
    limit: int  # working days allowed ([engine.step_limits])
    over_on: date  # the first day on which more than ``limit`` working days have passed


def step_limits(
    case: CaseInput,
    rules: EngineRules,
    calendar: WorkCalendar,
    clock: CaseClock,
    today: date,
) -> list[Candidate]:
    """Yellow when an approval step (SPCL) took longer than its configured limit, or when the
    step a running case waits for is already past it."""
    if not rules.step_limits:
        return []
    sl = case.one("SL")
    if sl is None:
        return []
    previous = local_date(sl.body.get("SLSJ"), "SL.SLSJ")
    over: list[dict[str, object]] = []
    # Days the clock stood still (special procedure B, correction) count against no step,
    # finished or pending, as they count against no deadline.
    suspended = _suspended_days(clock)
    for step in _steps(case):
        when = local_date(step.body.get("SPSJ"), "SPCL.SPSJ")
        code = str(step.body.get("SPHJDM", ""))
        allowed = rules.step_limits.get(code)
        if allowed is not None:
            took = _step_workdays(calendar, previous, when, suspended)
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
    pending = pending_step(case, clock, rules, calendar)
    if pending is not None and pending.over_on <= today:
        over.append(
            {
                "SPHJDM": pending.code,
                "step": _STEP_NAMES.get(pending.code, pending.code),
                "pending": True,
                "since": pending.since.isoformat(),
                "over_on": pending.over_on.isoformat(),
                "took": _step_workdays(calendar, pending.since, today, suspended),
                "limit": pending.limit,
            }
        )
    if not over:
        return []
    return [Candidate("yellow", "", "step_limit", "yellow", {"steps": over})]


def pending_step(
    case: CaseInput, clock: CaseClock, rules: EngineRules, calendar: WorkCalendar
) -> PendingStep | None:
    """The step a running case waits for, when ``[engine.step_limits]`` limits it: the one
    after the last reported SPCL (step 1 承办 with none yet), counted from the later of SLSJ and
    the last SPSJ in working days, the clock's suspended days (special procedure B, correction)
    left out. None when the case is completed or not accepted, or the step has no limit."""
    if not rules.step_limits or clock.accepted_on is None or clock.completed_on is not None:
        return None
    if case.one("BJ") is not None:
        return None
    steps = _steps(case)
    last = str(steps[-1].body.get("SPHJDM", "")) if steps else ""
    code = _NEXT_STEP.get(last)
    allowed = rules.step_limits.get(code) if code is not None else None
    if code is None or allowed is None:
        return None
    since = clock.accepted_on
    for step in steps:
        since = max(since, local_date(step.body.get("SPSJ"), "SPCL.SPSJ"))
    suspended = _suspended_days(clock)
    # The (allowed + 1)-th working day after ``since`` that is not suspended.
    day, counted = since, 0
    while counted <= allowed:
        day = calendar.add_workdays(day, 1).date
        if day not in suspended:
            counted += 1
    return PendingStep(code, since, allowed, day)


def _step_workdays(calendar: WorkCalendar, start: date, end: date, suspended: set[date]) -> int:
    """Working days after ``start`` up to ``end``, leaving out the suspended ones."""
    stood_still = sum(1 for d in suspended if start < d <= end and calendar.is_workday(d))
    return calendar.workdays_between(start, end).count - stood_still


def _steps(case: CaseInput) -> list[CaseRecord]:
    return sorted(case.of_type("SPCL"), key=lambda r: _step_order(r.body.get("SPBZH")))


def _suspended_days(clock: CaseClock) -> set[date]:
    """Dates the clock stood still: (start, end] of each suspension, as the clock applied it."""
    days: set[date] = set()
    for suspension in clock.suspensions:
        day = suspension.start + timedelta(days=1)
        while day <= suspension.end:
            days.add(day)
            day += timedelta(days=1)
    return days


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
