"""The outbox: one row per (verdict dedup key, contact, channel).

Enqueueing is idempotent (INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL alike),
so the sweep may report the same verdict any number of times and each person still gets one
message. Sending happens later, in :mod:`collector.notify.dispatch`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ..store.tables import departments, notify_outbox, verdict_withdrawals, verdicts
from .config import NotifyConfig
from .contacts import recipients
from .policy import BEIJING

STATES = ("pending", "sending", "sent", "failed", "deferred")
CATCH_UP = timedelta(days=7)
KIND_ZH = {"warning": "预警", "yellow": "黄牌", "red": "红牌", "anomaly": "异常"}


def template_values(verdict: Mapping[str, Any], department_name: str) -> dict[str, str]:
    due = verdict.get("due") or {}
    details = verdict.get("details") or {}
    deadline_key = "legal_deadline" if verdict["kind"] == "red" else "promised_deadline"
    deadline = due.get(deadline_key) or details.get(deadline_key) or details.get("deadline")
    issued = verdict.get("issued_at")
    issued_text = (
        issued.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
        if isinstance(issued, datetime)
        else str(issued or "")
    )
    return {
        "case_id": str(verdict.get("case_id") or ""),
        "department": department_name or str(verdict.get("department") or ""),
        "deadline": str(deadline or "-"),
        "code": str(verdict.get("code") or ""),
        "rule": str(verdict.get("rule") or ""),
        "level": str(verdict.get("level") or ""),
        "issued_at": issued_text,
        "kind_zh": KIND_ZH.get(str(verdict["kind"]), str(verdict["kind"])),
    }


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> int:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(notify_outbox)
        .on_conflict_do_nothing(index_elements=["dedup_key", "contact_id", "channel"])
        .returning(notify_outbox.c.id)
    )
    # RETURNING, not rowcount: psycopg reports -1 for a skipped conflict.
    return sum(len(conn.execute(statement, row).all()) for row in rows)


def enqueue_for_verdicts(
    conn: Connection, verdicts: Iterable[Mapping[str, Any]], at: datetime, config: NotifyConfig
) -> int:
    """Put one message per (verdict, recipient, channel) in the outbox; return how many were
    new. Recipients without an address for a channel are skipped for that channel."""
    at = at.astimezone(UTC)  # SQLite keeps the wall time as given: store UTC only
    names: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    for verdict in verdicts:
        kind = str(verdict["kind"])
        department = str(verdict.get("department") or "")
        if department not in names:
            names[department] = (
                conn.execute(
                    select(departments.c.name).where(departments.c.code == department)
                ).scalar()
                or ""
            )
        values = template_values(verdict, names[department])
        for route in config.routes.get(kind, ()):
            for role in route.roles:
                for contact in recipients(conn, verdict, role):
                    for channel in route.channels:
                        address = contact.address(channel)
                        if not address:
                            continue
                        rendered = config.templates.render(channel, kind, values)
                        rows.append(
                            {
                                "dedup_key": str(verdict["dedup_key"]),
                                "contact_id": contact.id,
                                "channel": channel,
                                "address": address,
                                "verdict_id": str(verdict.get("id") or ""),
                                "case_id": values["case_id"],
                                "department": department,
                                "kind": kind,
                                "subject": rendered.subject,
                                "body": rendered.body,
                                "params": [list(p) for p in rendered.params],
                                "state": "pending",
                                "attempts": 0,
                                "next_attempt_at": at,
                                "created_at": at,
                            }
                        )
    return _insert(conn, rows) if rows else 0


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    dedup_key: str
    channel: str
    address: str
    kind: str
    case_id: str | None
    state: str
    attempts: int
    next_attempt_at: datetime
    sent_at: datetime | None
    provider: str | None
    provider_message_id: str | None
    last_error: str | None
    deferred_reason: str | None
    receipt_status: str | None
    receipt: Any
    receipt_at: datetime | None
    body: str
    subject: str


def list_outbox(
    conn: Connection, *, state: str | None = None, case_id: str | None = None, limit: int = 100
) -> list[OutboxEntry]:
    c = notify_outbox.c
    query = select(notify_outbox)
    if state:
        query = query.where(c.state == state)
    if case_id:
        query = query.where(c.case_id == case_id)
    rows = conn.execute(query.order_by(c.id.desc()).limit(limit))
    return [
        OutboxEntry(
            r.id,
            r.dedup_key,
            r.channel,
            r.address,
            r.kind,
            r.case_id,
            r.state,
            r.attempts,
            r.next_attempt_at,
            r.sent_at,
            r.provider,
            r.provider_message_id,
            r.last_error,
            r.deferred_reason,
            r.receipt_status,
            r.receipt,
            r.receipt_at,
            r.body,
            r.subject,
        )
        for r in rows
    ]


def count_by_state(conn: Connection) -> dict[str, int]:
    c = notify_outbox.c
    return {s: n for s, n in conn.execute(select(c.state, func.count()).group_by(c.state))}


def enqueue_recent_verdicts(
    conn: Connection, config: NotifyConfig, now: datetime, window: timedelta = CATCH_UP
) -> int:
    """Enqueue every verdict issued within ``window`` before ``now`` that is not withdrawn.

    The listener enqueues in the engine's transaction, but a sweep run by another process
    (``esup-collector rules run``) has no listener; this catch-up, run before each dispatch,
    makes sure those verdicts are told too. Idempotent like every enqueue.
    """
    v = verdicts.c
    withdrawn = select(verdict_withdrawals.c.verdict_id)
    rows = conn.execute(
        select(verdicts)
        .where(v.issued_at >= (now - window).astimezone(UTC), v.id.not_in(withdrawn))
        .order_by(v.id)
    ).all()
    found = [
        {
            "id": r.id,
            "case_id": r.sblsh,
            "department": r.department,
            "kind": r.kind,
            "code": r.code,
            "rule": r.rule,
            "level": r.level,
            "dedup_key": r.dedup_key,
            "issued_at": r.issued_at,
            "due": r.due or {},
            "calendar_version": r.calendar_version,
            "rule_version": r.rule_version,
            "details": r.details or {},
        }
        for r in rows
    ]
    return enqueue_for_verdicts(conn, found, now, config) if found else 0
