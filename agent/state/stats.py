"""Statistics kept apart from the records: counters, the last errors and the pause state.

Recording an error never raises: it is called while something already went wrong (a full disk
fails the error's own write too), and a traceback from the error path would hide the first one.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from ..errors import OutboxError
from .store import StateStore

KEEP_ERRORS = 50
log = logging.getLogger("esup.agent")


class Stats:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    @staticmethod
    def count(conn: sqlite3.Connection, name: str, n: int) -> None:
        if n:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                "SET value = CAST(meta.value AS INTEGER) + excluded.value",
                (f"counter.{name}", n),
            )

    def add(self, name: str, n: int = 1) -> None:
        with self.store.transaction("count") as conn:
            self.count(conn, name, n)

    def counters(self) -> dict[str, int]:
        return {
            k.removeprefix("counter."): int(v)
            for k, v in self.store.query("SELECT key, value FROM meta WHERE key LIKE 'counter.%'")
        }

    def record_error(self, place: str, message: str) -> bool:
        """Keep an error for ``status``; False (and a log line) when even that cannot be saved."""
        try:
            with self.store.transaction("record an error") as conn:
                conn.execute(
                    "INSERT INTO errors (at, place, message) VALUES (?, ?, ?)",
                    (self.store.now(), place, message),
                )
                conn.execute(
                    "DELETE FROM errors WHERE id <= (SELECT max(id) FROM errors) - ?",
                    (KEEP_ERRORS,),
                )
        except OutboxError as exc:
            log.error("cannot keep an error in the outbox (%s): %s: %s", exc, place, message)
            return False
        return True

    def last_errors(self, limit: int = 10) -> list[dict[str, str]]:
        return [
            {"at": a, "where": p, "message": m}
            for a, p, m in self.store.query(
                "SELECT at, place, message FROM errors ORDER BY id DESC LIMIT ?", (limit,)
            )
        ]

    @property
    def paused(self) -> str | None:
        """Why polling pauses (outbox full, disk reserve), None while it runs."""
        value = self.store.value("paused")
        return str(value) if value else None

    @property
    def reconcile(self) -> dict[str, Any] | None:
        """What the last reconciliation pass found (agent/reconcile.py), None before the first."""
        value = self.store.value("reconcile")
        return dict(value) if value else None

    def set_reconcile(self, report: dict[str, Any]) -> None:
        with self.store.transaction("save the reconciliation result") as conn:
            self.store.put(conn, "reconcile", report)

    def set_paused(self, reason: str | None) -> None:
        """Record the pause state when it changes (a full disk may refuse even that write)."""
        if reason == self.paused:
            return
        try:
            with self.store.transaction("save the pause state") as conn:
                self.store.put(conn, "paused", reason)
        except OutboxError as exc:
            log.error("cannot save the pause state (%s): %s", exc, reason)
