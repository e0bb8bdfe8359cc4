"""Departments whose agent is still sending its backlog: the engine waits before judging them.

An agent catching up delivers a case's acceptance in one batch and its completion in a later
one; judged in between, a case completed on time looks overdue, and a card once issued is
never silently withdrawn. So while an active agent of a department says it is behind (records
still in its outbox, or a source being read), that department's cases wait, for at most the
grace window of the rules (``[clock] silence_grace_hours``): an agent stuck behind for longer
must not keep its department out of supervision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from collector.store.tables import agents
from collector.store.timestamps import as_utc


@dataclass(frozen=True)
class CatchingUp:
    department: str
    since: datetime  # when its agent first said it was behind (collector time, UTC)
    records: int  # records its agents still hold undelivered, by their last report
    capturing: bool  # a source was being read at the last report


def departments_catching_up(
    conn: Connection, at: datetime, grace_hours: int
) -> dict[str, CatchingUp]:
    """Departments to wait for at ``at``: an active agent behind for less than the grace."""
    rows = conn.execute(
        select(
            agents.c.department,
            agents.c.behind_since,
            agents.c.backlog_records,
            agents.c.backlog_capturing,
        ).where(agents.c.status == "active", agents.c.behind_since.is_not(None))
    )
    grace = timedelta(hours=grace_hours)
    found: dict[str, CatchingUp] = {}
    for department, behind_since, records, capturing in rows:
        since = as_utc(behind_since)
        if since is None or at >= since + grace:
            continue
        earlier = found.get(department)
        found[department] = CatchingUp(
            department,
            min(since, earlier.since) if earlier else since,
            int(records or 0) + (earlier.records if earlier else 0),
            bool(capturing) or (earlier.capturing if earlier else False),
        )
    return found
