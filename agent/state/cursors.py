"""Read positions of every source table; saved in the transaction of the chunk they follow,
so after a crash a cursor is never ahead of the records."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from .store import StateStore


class Cursors:
    def __init__(self, store: StateStore) -> None:
        self.store = store

    @staticmethod
    def save(
        conn: sqlite3.Connection, source: str, table_key: str, cursor: Mapping[str, Any], now: str
    ) -> None:
        conn.execute(
            "INSERT INTO cursors (source, table_key, cursor, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (source, table_key) DO UPDATE SET "
            "cursor = excluded.cursor, updated_at = excluded.updated_at",
            (source, table_key, json.dumps(dict(cursor), sort_keys=True), now),
        )

    def get(self, source: str, table_key: str) -> dict[str, Any] | None:
        rows = self.store.query(
            "SELECT cursor FROM cursors WHERE source = ? AND table_key = ?", (source, table_key)
        )
        return json.loads(rows[0][0]) if rows else None

    def all(self) -> list[dict[str, Any]]:
        return [
            {"source": s, "table": t, "cursor": json.loads(c), "updated_at": u}
            for s, t, c, u in self.store.query(
                "SELECT source, table_key, cursor, updated_at FROM cursors "
                "ORDER BY source, table_key"
            )
        ]
