"""Matters for cards that have none yet (a listener that was not subscribed, or failed).

The engine's ``verdicts`` table is the source of truth: every yellow or red verdict that is not
withdrawn and has no matter gets one, opened at the verdict's own ``issued_at`` (so numbers and
deadlines are what the listener would have given). Oldest first, so a red card finds the yellow
matter of its case. Idempotent; run it from the sweep or ``supervision open-missing``.
"""

from __future__ import annotations

from sqlalchemy import Connection, String, cast, exists, select

from collector.store.tables import supervision_matters, verdict_withdrawals, verdicts
from collector.store.timestamps import as_utc

from .calendars import calendar_for
from .matters import CARD_KINDS, Matter, MatterPolicy, open_matters_for


def open_missing_matters(
    conn: Connection, *, policy: MatterPolicy | None = None, limit: int = 10_000
) -> list[Matter]:
    """Open the matters missing for stored card verdicts; returns those opened."""
    v = verdicts.c
    has_matter = exists().where(supervision_matters.c.verdict_id == cast(v.id, String))
    withdrawn = exists().where(verdict_withdrawals.c.verdict_id == v.id)
    rows = conn.execute(
        select(verdicts)
        .where(v.kind.in_(CARD_KINDS), ~has_matter, ~withdrawn)
        .order_by(v.id)
        .limit(limit)
    ).all()
    opened: list[Matter] = []
    for row in rows:
        verdict = {
            "id": int(row.id),
            "case_id": row.sblsh,
            "department": row.department,
            "kind": row.kind,
            "code": row.code,
            "rule": row.rule,
            "level": row.level,
            "dedup_key": row.dedup_key,
            "issued_at": as_utc(row.issued_at),
            "due": dict(row.due or {}),
            "calendar_version": row.calendar_version,
            "rule_version": row.rule_version,
            "details": dict(row.details or {}),
        }
        calendar = calendar_for(conn, row.calendar_version)
        opened.extend(open_matters_for(conn, [verdict], calendar=calendar, policy=policy))
    return opened
