"""Append-only audit log with a hash chain: row_hash = sha256(prev_hash + canonical row).

Writers serialise on the chain's tail (PostgreSQL: a transaction-level advisory lock; SQLite:
every write transaction already holds the database's write lock), so the chain never forks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from collector.store.tables import audit_log
from collector.store.timestamps import as_utc

#: Agents' lifecycle, written by collector.store.enrolment: who issued a token for which
#: department, which agent enrolled with which key (and which agents it replaced), key
#: rotations and revocations. Details name token ids and key ids, never a token or a key.
AGENT_TOKEN = "agent.token"  # noqa: S105 - an action name, not a secret
AGENT_ENROL = "agent.enrol"
AGENT_ROTATE = "agent.rotate"
AGENT_REVOKE = "agent.revoke"

_GENESIS = "0" * 64
_PG_AUDIT_LOCK = 0x45535041


def _canonical(at: datetime, actor: str, action: str, subject: str, details: Any) -> bytes:
    row = {
        "at": at.isoformat(),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
    }
    return json.dumps(row, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def row_hash(
    prev_hash: str, at: datetime, actor: str, action: str, subject: str, details: Any
) -> str:
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(_canonical(at, actor, action, subject, details))
    return digest.hexdigest()


def append(
    conn: Connection, *, at: datetime, actor: str, action: str, subject: str, details: Any
) -> str:
    """Append one entry in the caller's transaction; returns its hash."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    at = as_utc(at) or at
    # Whole seconds: every database hands the time back equal, so the hash re-verifies.
    at = at.replace(microsecond=0)
    prev = conn.execute(
        select(audit_log.c.row_hash).order_by(audit_log.c.id.desc()).limit(1)
    ).scalar()
    prev_hash = prev or _GENESIS
    digest = row_hash(prev_hash, at, actor, action, subject, details)
    conn.execute(
        audit_log.insert().values(
            at=at,
            actor=actor,
            action=action,
            subject=subject,
            details=details,
            prev_hash=prev_hash,
            row_hash=digest,
        )
    )
    return digest


@dataclass(frozen=True)
class ChainReport:
    entries: int
    broken_at: int | None  # id of the first entry that does not verify
    reason: str = ""


def verify(engine: Engine) -> ChainReport:
    """Recompute the chain from the first entry; report the first row that does not match."""
    prev_hash = _GENESIS
    count = 0
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id))
        for row in rows:
            count += 1
            if row.prev_hash != prev_hash:
                return ChainReport(count, row.id, "prev_hash does not match the previous row")
            at = as_utc(row.at)
            assert at is not None
            expected = row_hash(prev_hash, at, row.actor, row.action, row.subject, row.details)
            if expected != row.row_hash:
                return ChainReport(count, row.id, "row content does not match its hash")
            prev_hash = row.row_hash
    return ChainReport(count, None)
