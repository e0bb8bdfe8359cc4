"""What each agent still has to send, from its last batch manifest or heartbeat.

An agent sending a backlog delivers a case's acceptance in one batch and its completion in a
later one; the engine must not judge the department in between. Reports are ordered by the
agent's signed time, so a heartbeat built before a batch but received after it cannot undo
what the batch said.

Each run of "behind" reports is also kept as a row of ``backlog_waits`` (open while the agent
is behind): the engine grants a department a bounded total of waiting out of these
(:mod:`collector.engine.catching_up`), and the bureau sees every one
(`esup-collector departments waits`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, case, delete, insert, or_, select, update

from exchange_spec.protocol import Backlog

from .tables import agents, backlog_waits
from .timestamps import as_utc

#: How long the record of a finished wait is kept for the bureau.
WAITS_KEPT = timedelta(days=90)


def record_backlog(
    conn: Connection, agent_id: str, backlog: Backlog, *, reported_at: datetime, now: datetime
) -> None:
    """Store ``backlog`` unless a later report is already stored (in the caller's transaction).

    ``behind_since`` is the collector's time of the first report of a run of "behind"
    reports; a report that is not behind clears it."""
    reported_at = reported_at.astimezone(UTC)
    now = now.astimezone(UTC)
    stored = conn.execute(
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
        .returning(agents.c.department, agents.c.behind_since)
    ).first()
    if stored is not None:
        _keep_wait(conn, agent_id, stored.department, stored.behind_since, now)


def _keep_wait(
    conn: Connection, agent_id: str, department: str, behind_since: datetime | None, now: datetime
) -> None:
    """Open a wait when the agent fell behind, close it when it caught up."""
    open_wait = conn.execute(
        select(backlog_waits.c.id).where(
            backlog_waits.c.agent_id == agent_id, backlog_waits.c.ended_at.is_(None)
        )
    ).first()
    if behind_since is not None and open_wait is None:
        conn.execute(
            insert(backlog_waits).values(
                agent_id=agent_id, department=department, started_at=as_utc(behind_since)
            )
        )
    elif behind_since is None and open_wait is not None:
        conn.execute(
            update(backlog_waits).where(backlog_waits.c.id == open_wait.id).values(ended_at=now)
        )
        conn.execute(
            delete(backlog_waits).where(
                backlog_waits.c.agent_id == agent_id, backlog_waits.c.ended_at < now - WAITS_KEPT
            )
        )


@dataclass(frozen=True)
class Wait:
    """One run of "behind" reports of an agent (``ended_at`` None: still behind)."""

    department: str
    agent_id: str
    started_at: datetime
    ended_at: datetime | None
    agent_active: bool = True  # a revoked agent's open run waits for nothing


def list_waits(conn: Connection, *, since: datetime, department: str | None) -> list[Wait]:
    """Runs that were open at some point after ``since``, oldest first."""
    query = (
        select(backlog_waits, agents.c.status)
        .join(agents, agents.c.agent_id == backlog_waits.c.agent_id)
        .where(or_(backlog_waits.c.ended_at.is_(None), backlog_waits.c.ended_at > since))
        .order_by(backlog_waits.c.department, backlog_waits.c.started_at, backlog_waits.c.id)
    )
    if department is not None:
        query = query.where(backlog_waits.c.department == department)
    waits = []
    for row in conn.execute(query):
        started = as_utc(row.started_at)
        assert started is not None
        waits.append(
            Wait(
                row.department,
                row.agent_id,
                started,
                as_utc(row.ended_at),
                row.status == "active",
            )
        )
    return waits
