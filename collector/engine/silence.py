"""Data silence: a department whose agents sent neither a heartbeat nor a record for too long.

Only departments with an active agent are watched (a department that only imports files has
no agent to fall silent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from collector.store.tables import agents, records_current
from collector.store.timestamps import as_utc


@dataclass(frozen=True)
class Silence:
    department: str
    last_seen: datetime
    since: datetime  # last_seen + the silence threshold


def silent_departments(conn: Connection, at: datetime, after_hours: int) -> dict[str, Silence]:
    heartbeats = dict(
        conn.execute(
            select(agents.c.department, func.max(agents.c.last_heartbeat_at))
            .where(agents.c.status == "active")
            .group_by(agents.c.department)
        ).all()
    )
    if not heartbeats:
        return {}
    records = dict(
        conn.execute(
            select(records_current.c.department, func.max(records_current.c.received_at))
            .where(records_current.c.department.in_(list(heartbeats)))
            .group_by(records_current.c.department)
        ).all()
    )
    threshold = timedelta(hours=after_hours)
    found: dict[str, Silence] = {}
    for department, heartbeat in heartbeats.items():
        seen = [t for t in (as_utc(heartbeat), as_utc(records.get(department))) if t is not None]
        if not seen:
            continue
        last = max(seen)
        if at - last > threshold:
            found[department] = Silence(department, last, last + threshold)
    return found
