"""Departments whose agent is still sending its backlog: the engine waits before judging them.

An agent catching up delivers a case's acceptance in one batch and its completion in a later
one; judged in between, a case completed on time looks overdue, and a card once issued is
never silently withdrawn. So while an active agent of a department says it is behind (records
still in its outbox, or a source being read), that department's cases wait, for at most the
grace window of the rules (``[clock] silence_grace_hours``, G) counted from the first "behind"
report of the run: an agent stuck behind for longer must not keep its department out of
supervision.

The wait cannot be renewed by the agent: alternating "caught up" and "behind" starts a new
run each time, so every run counts against one budget. Within any window of 24 hours + G
(48 hours with the default 24), the time a department's agents reported being behind adds up
to at most G of waiting; once it is spent, the department is judged like any other until
older runs fall out of the window. A card can thus be held back by at most G, and a
department is judged for at least 24 hours out of every 24 + G. Each run is kept in
``backlog_waits`` for the bureau (`esup-collector departments waits`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from collector.store.tables import agents, backlog_waits
from collector.store.timestamps import as_utc

#: The budget window is the grace window plus this.
BUDGET_EXTRA = timedelta(hours=24)


@dataclass(frozen=True)
class CatchingUp:
    department: str
    since: datetime  # when its agent first said it was behind (collector time, UTC)
    records: int  # records its agents still hold undelivered, by their last report
    capturing: bool  # a source was being read at the last report
    until: datetime | None = None  # the latest the wait can last (the budget spent)


def budget_window(grace_hours: int) -> timedelta:
    return timedelta(hours=grace_hours) + BUDGET_EXTRA


def departments_catching_up(
    conn: Connection, at: datetime, grace_hours: int
) -> dict[str, CatchingUp]:
    """Departments to wait for at ``at``: an active agent behind, and the department's
    waiting within the budget window (:func:`waited`) short of the grace."""
    rows = conn.execute(
        select(
            agents.c.department,
            agents.c.behind_since,
            agents.c.backlog_records,
            agents.c.backlog_capturing,
        ).where(agents.c.status == "active", agents.c.behind_since.is_not(None))
    )
    behind: dict[str, CatchingUp] = {}
    for department, behind_since, records, capturing in rows:
        since = as_utc(behind_since)
        if since is None or since > at:
            continue
        earlier = behind.get(department)
        behind[department] = CatchingUp(
            department,
            min(since, earlier.since) if earlier else since,
            int(records or 0) + (earlier.records if earlier else 0),
            bool(capturing) or (earlier.capturing if earlier else False),
        )
    if not behind:
        return {}
    grace = timedelta(hours=grace_hours)
    used = waited(conn, behind, {d: c.since for d, c in behind.items()}, at, grace_hours)
    return {
        d: CatchingUp(c.department, c.since, c.records, c.capturing, at + grace - used[d])
        for d, c in behind.items()
        if used[d] < grace
    }


def waited(
    conn: Connection,
    departments: Iterable[str],
    open_since: Mapping[str, datetime],
    at: datetime,
    grace_hours: int,
) -> dict[str, timedelta]:
    """How long each department's agents reported being behind within the budget window
    ending at ``at``: finished runs from ``backlog_waits``, the open run from ``open_since``;
    overlapping runs of two agents count once."""
    start = at - budget_window(grace_hours)
    wanted = sorted(set(departments))
    runs: dict[str, list[tuple[datetime, datetime]]] = {d: [] for d in wanted}
    for department, since in open_since.items():
        runs.setdefault(department, []).append((since, at))
    rows = conn.execute(
        select(backlog_waits.c.department, backlog_waits.c.started_at, backlog_waits.c.ended_at)
        .where(
            backlog_waits.c.department.in_(sorted(runs)),
            backlog_waits.c.ended_at.is_not(None),
            backlog_waits.c.ended_at > start,
        )
        .order_by(backlog_waits.c.started_at)
    )
    for department, started_at, ended_at in rows:
        began, ended = as_utc(started_at), as_utc(ended_at)
        if began is not None and ended is not None:
            runs[department].append((began, min(ended, at)))
    return {d: _covered(r, start, at) for d, r in runs.items()}


def _covered(
    runs: Iterable[tuple[datetime, datetime]], start: datetime, end: datetime
) -> timedelta:
    """Length of the union of ``runs`` within [start, end]."""
    total = timedelta(0)
    reach = start
    for began, ended in sorted(runs):
        began, ended = max(began, reach), min(ended, end)
        if ended > began:
            total += ended - began
            reach = ended
    return total
