"""What each agent still has to send, from its last batch manifest or heartbeat.

An agent sending a backlog delivers a case's acceptance in one batch and its completion in a
later one; the engine must not judge the department in between. Reports are ordered by the
agent's signed time, so a heartbeat built before a batch but received after it cannot undo
what the batch said.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, case, or_, update

from exchange_spec.protocol import Backlog

from .tables import agents


def record_backlog(
    conn: Connection, agent_id: str, backlog: Backlog, *, reported_at: datetime, now: datetime
) -> None:
    """Store ``backlog`` unless a later report is already stored (in the caller's transaction).

    ``behind_since`` is the collector's time of the first report of a run of "behind"
    reports; a report that is not behind clears it."""
    reported_at = reported_at.astimezone(UTC)
    conn.execute(
        update(agents)
        .where(
            agents.c.agent_id == agent_id,
            or_(
                agents.c.backlog_reported_at.is_(None),
                agents.c.backlog_reported_at <= reported_at,
            ),
        )
        .values(
            backlog_records=backlog.records,
            backlog_capturing=backlog.capturing,
            backlog_reported_at=reported_at,
            behind_since=(
                case(
                    (agents.c.behind_since.is_(None), now.astimezone(UTC)),
                    else_=agents.c.behind_since,
                )
                if backlog.behind
                else None
            ),
        )
    )
