"""Only one sweep at a time across collector processes.

PostgreSQL: a session-level ``pg_try_advisory_lock`` held on a dedicated connection for the
whole sweep (released on exit, or by the server if the process dies). SQLite: a row in
engine_locks taken with ``UPDATE ... WHERE holder IS NULL OR expires_at < now`` and an expiry,
so a crashed holder frees it after ``ttl``.
"""

from __future__ import annotations

import os
import socket
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import Engine, or_, select, text, update

from collector.store.tables import engine_locks
from collector.store.timestamps import utc_now
from collector.store.upsert import insert_on_conflict

_PG_SWEEP_LOCK = 0x45535357  # "ESSW"
_EPOCH_TTL = timedelta(minutes=30)


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Held:
    """Truthy when this caller holds the lock; ``renew()`` pushes a SQLite row's expiry out
    (the sweep calls it per page, so a sweep longer than ``ttl`` keeps its lock)."""

    def __init__(self, held: bool, engine: Engine, name: str, holder: str, ttl: timedelta):
        self.held = held
        self._engine, self._name, self._holder, self._ttl = engine, name, holder, ttl

    def __bool__(self) -> bool:
        return self.held

    def renew(self) -> None:
        if not self.held or self._engine.dialect.name == "postgresql":
            return
        with self._engine.begin() as conn:
            conn.execute(
                update(engine_locks)
                .where(engine_locks.c.name == self._name, engine_locks.c.holder == self._holder)
                .values(expires_at=utc_now() + self._ttl)
            )


@contextmanager
def sweep_lock(engine: Engine, name: str = "sweep", ttl: timedelta = _EPOCH_TTL) -> Iterator[Held]:
    """Yield a truthy :class:`Held` when this caller holds the lock, falsy when another sweep
    holds it."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            key = _PG_SWEEP_LOCK ^ zlib.crc32(name.encode("utf-8"))
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield Held(got, engine, name, "", ttl)
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
        return
    holder = new_holder()
    got = _take_row(engine, name, holder, ttl)
    try:
        yield Held(got, engine, name, holder, ttl)
    finally:
        if got:
            with engine.begin() as conn:
                conn.execute(
                    update(engine_locks)
                    .where(engine_locks.c.name == name, engine_locks.c.holder == holder)
                    .values(holder=None)
                )


def _take_row(engine: Engine, name: str, holder: str, ttl: timedelta) -> bool:
    now = utc_now()
    with engine.begin() as conn:
        conn.execute(
            insert_on_conflict(conn, engine_locks)
            .values(name=name, holder=None, expires_at=now)
            .on_conflict_do_nothing()
        )
        taken = conn.execute(
            update(engine_locks)
            .where(
                engine_locks.c.name == name,
                or_(engine_locks.c.holder.is_(None), engine_locks.c.expires_at < now),
            )
            .values(holder=holder, expires_at=now + ttl)
        ).rowcount
        return taken == 1


def lock_holder(engine: Engine, name: str = "sweep") -> str | None:
    """Who holds the SQLite lock row (for operators; PostgreSQL shows it in pg_locks)."""
    with engine.connect() as conn:
        return conn.execute(
            select(engine_locks.c.holder).where(engine_locks.c.name == name)
        ).scalar()
