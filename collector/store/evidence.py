"""Evidence of what agents sent: nonces (replay window) and batch manifests with signatures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, update

from .tables import batches, nonces
from .upsert import insert_on_conflict


def claim_nonce(conn: Connection, agent_id: str, nonce: str, *, now: datetime) -> bool:
    """Remember ``nonce`` for ``agent_id``; False when it was seen before (a replay)."""
    stmt = insert_on_conflict(conn, nonces).values(agent_id=agent_id, nonce=nonce, seen_at=now)
    # RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT.
    return conn.execute(stmt.on_conflict_do_nothing().returning(nonces.c.nonce)).first() is not None


def forget_old_nonces(conn: Connection, *, now: datetime, retention_seconds: int) -> int:
    """Drop nonces older than the retention (they are outside the freshness window anyway)."""
    cutoff = now - timedelta(seconds=retention_seconds)
    return int(conn.execute(delete(nonces).where(nonces.c.seen_at < cutoff)).rowcount)


def keep_batch(
    conn: Connection,
    agent_id: str,
    manifest: dict[str, Any],
    signature: str,
    manifest_hash: str,
    *,
    now: datetime,
    remote_addr: str,
) -> int:
    result = conn.execute(
        insert(batches)
        .values(
            agent_id=agent_id,
            manifest=manifest,
            signature=signature,
            manifest_hash=manifest_hash,
            received_at=now,
            remote_addr=remote_addr[:64],
        )
        .returning(batches.c.id)
    )
    return int(result.scalar_one())


def attach_receipt(conn: Connection, batch_id: int, receipt: dict[str, Any]) -> None:
    conn.execute(update(batches).where(batches.c.id == batch_id).values(receipt=receipt))
