"""When time alone can next change a case's verdicts: the full sweep's skip list.

Pure: the earliest of the warning day, the yellow day, the day after the red-after-yellow
window, the day after the legal deadline and the day the pending approval step goes over its
``[engine.step_limits]`` limit that is after ``today``. Cases whose outcome depends on more than
the date (an open suspension moves the deadline daily; a silent department or an exemption
expires) are rechecked the next day. None: nothing more can happen by time alone (completed,
not accepted, or every card already due); new records, a calendar or a rules change still bring
the case back.
"""

from __future__ import annotations

from datetime import date, timedelta

from collector.clock import CaseClock, WorkCalendar
from collector.engine.rules_file import EngineRules
from collector.engine.verdicts.case_input import CaseContext, CaseInput
from collector.engine.verdicts.deadlines import pending_step, yellow_day

_ONE_DAY = timedelta(days=1)


def recheck_on(
    clock: CaseClock,
    rules: EngineRules,
    calendar: WorkCalendar,
    context: CaseContext,
    today: date,
    case: CaseInput,
) -> date | None:
    if clock.completed_on is not None or clock.accepted_on is None:
        return None
    if context.silent_since is not None or context.exempt or any(s.open for s in clock.suspensions):
        return today + _ONE_DAY
    triggers: list[date] = []
    if clock.warning_on is not None:
        triggers.append(clock.warning_on)
    yellow = yellow_day(clock, rules, calendar)
    if yellow is not None:
        triggers.append(yellow)
        since = context.yellow_issued_on or yellow
        window_end = calendar.add_workdays(since, rules.clock.red_after_yellow_workdays).date
        triggers.append(window_end + _ONE_DAY)
    if clock.legal_deadline is not None:
        triggers.append(clock.legal_deadline + _ONE_DAY)
    pending = pending_step(case, clock, rules, calendar)
    if pending is not None:
        triggers.append(pending.over_on)
    future = [d for d in triggers if d > today]
    return min(future) if future else None
