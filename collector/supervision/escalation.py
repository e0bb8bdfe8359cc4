"""Escalation of matters whose reply deadline passed (officer -> department leader -> bureau).

The reply deadline is the last day on which a reply is on time; from the next day the matter
moves up one level with a new deadline ``reply_workdays`` working days after the old one. A
run that comes late (the sweep was down) applies every step that is due, each from the
previous deadline, so the result does not depend on when the sweep ran. Matters that were
replied to, appealed, closed or superseded by a red card do not escalate; at the bureau there
is no higher level, the matter stays overdue in the lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, select, update

from collector.clock import SHANGHAI, WorkCalendar
from collector.store.tables import supervision_matters

from .matters import LEVEL_NAMES_ZH, LEVELS, SYSTEM_ACTOR, add_event, utc_time


@dataclass(frozen=True)
class Escalation:
    """One step up of one matter."""

    matter_id: int
    number: str
    from_level: str
    to_level: str
    due_was: date
    due_reply_by: date

    def as_dict(self) -> dict[str, object]:
        return {
            "matter_id": self.matter_id,
            "number": self.number,
            "from_level": self.from_level,
            "to_level": self.to_level,
            "due_was": self.due_was.isoformat(),
            "due_reply_by": self.due_reply_by.isoformat(),
        }


def escalate_due(conn: Connection, *, calendar: WorkCalendar, at: datetime) -> list[Escalation]:
    """Escalate every waiting matter whose deadline passed before ``at``'s day (Asia/Shanghai).

    Safe with several collectors: each step is an UPDATE guarded by the level and deadline
    it read, so a step another process already took is not taken twice.
    """
    at = utc_time(at, "escalation time")
    today = at.astimezone(SHANGHAI).date()
    m = supervision_matters.c
    rows = conn.execute(
        select(m.id, m.number, m.level, m.due_reply_by, m.reply_workdays)
        .where(
            m.state.in_(("open", "escalated")),
            m.superseded_by_id.is_(None),
            m.appeal_pending.is_(False),
            m.level != LEVELS[-1],
            m.due_reply_by < today,
        )
        .order_by(m.id)
    ).all()
    steps: list[Escalation] = []
    for row in rows:
        level, due = str(row.level), row.due_reply_by
        while due < today and level != LEVELS[-1]:
            new_level = LEVELS[LEVELS.index(level) + 1]
            new_due = calendar.add_workdays(due, int(row.reply_workdays))
            done = conn.execute(
                update(supervision_matters)
                .where(m.id == row.id, m.level == level, m.due_reply_by == due)
                .values(
                    state="escalated",
                    level=new_level,
                    due_reply_by=new_due.date,
                    due_provisional=new_due.provisional,
                    updated_at=at,
                )
            ).rowcount
            if done != 1:
                break  # another process moved it meanwhile
            add_event(
                conn,
                int(row.id),
                "escalated",
                actor=SYSTEM_ACTOR,
                at=at,
                note=(
                    f"逾期未回告（期限 {due.isoformat()}），提交"
                    f"{LEVEL_NAMES_ZH[new_level]}督办，新期限 {new_due.date.isoformat()}"
                ),
                data={
                    "from": level,
                    "to": new_level,
                    "due_was": due.isoformat(),
                    "due_reply_by": new_due.date.isoformat(),
                },
            )
            steps.append(Escalation(int(row.id), row.number, level, new_level, due, new_due.date))
            level, due = new_level, new_due.date
    return steps
