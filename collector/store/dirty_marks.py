"""Dirty marks: the cases the engine's next dirty sweep must evaluate.

The ingest marks the cases of new record versions in its own transaction (a receipt-time
watermark alone misses a batch that commits after a later one); the engine marks again the
cases it had to put off, so they are evaluated as soon as their department has caught up.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection

from .tables import engine_dirty_cases
from .upsert import insert_on_conflict


def mark_cases(conn: Connection, cases: Mapping[str, str], at: datetime) -> None:
    """Mark ``cases`` (case number -> department) for the next dirty sweep; a case marked
    again keeps its latest time."""
    if not cases:
        return
    statement = insert_on_conflict(conn, engine_dirty_cases)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[engine_dirty_cases.c.sblsh],
            set_={
                "marked_at": statement.excluded.marked_at,
                "department": statement.excluded.department,
            },
        ),
        [{"sblsh": s, "marked_at": at, "department": d} for s, d in sorted(cases.items())],
    )
