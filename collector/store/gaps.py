"""Missing sequence numbers per agent, between 1 and the highest seq received.

One pass over the deliveries primary key with LAG(): each row whose predecessor is not
seq - 1 opens a gap. Works the same on SQLite (>= 3.25) and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from .tables import deliveries


def sequence_gaps(conn: Connection, agent_id: str | None = None) -> dict[str, list[list[int]]]:
    """Return ``{agent_id: [[first_missing, last_missing], ...]}`` for agents with gaps."""
    prev = (
        func.lag(deliveries.c.seq, 1, 0)
        .over(partition_by=deliveries.c.agent_id, order_by=deliveries.c.seq)
        .label("prev")
    )
    inner = select(deliveries.c.agent_id, deliveries.c.seq, prev)
    if agent_id is not None:
        inner = inner.where(deliveries.c.agent_id == agent_id)
    sub = inner.subquery()
    rows = conn.execute(
        select(sub.c.agent_id, (sub.c.prev + 1).label("first"), (sub.c.seq - 1).label("last"))
        .where(sub.c.seq - sub.c.prev > 1)
        .order_by(sub.c.agent_id, sub.c.seq)
    )
    out: dict[str, list[list[int]]] = {}
    for row in rows:
        out.setdefault(row.agent_id, []).append([int(row.first), int(row.last)])
    return out


def highest_seqs(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(deliveries.c.agent_id, func.max(deliveries.c.seq)).group_by(deliveries.c.agent_id)
    )
    return {r[0]: int(r[1]) for r in rows}


def highest_seq(conn: Connection, agent_id: str) -> int:
    """The highest seq this agent delivered (0 for none): a restored agent numbers above it."""
    value = conn.execute(
        select(func.max(deliveries.c.seq)).where(deliveries.c.agent_id == agent_id)
    ).scalar()
    return int(value or 0)
