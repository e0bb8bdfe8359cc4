"""Legacy rows the mapping could not turn into valid records: kept on this machine, never sent,
visible in ``status`` and replayed after a mapping fix."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import rowjson
from ..errors import OutboxError
from .store import StateStore


@dataclass(frozen=True)
class QuarantineItem:
    """A legacy row the mapping turned into an invalid record (kept locally, not sent)."""

    source: str
    table_key: str
    record_type: str
    row_key: str
    row: Mapping[str, Any]
    problems: Sequence[Mapping[str, Any]]
    partial: Mapping[str, Any] | None = None
    reason: str = ""


@dataclass(frozen=True)
class QuarantineEntry:
    id: int
    source: str
    table_key: str
    record_type: str
    row_key: str
    row: dict[str, Any]
    problems: list[dict[str, Any]]
    partial: dict[str, Any] | None
    reason: str
    first_seen: str
    last_seen: str
    count: int
    state: str

    def as_dict(self, *, with_row: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "table": self.table_key,
            "record_type": self.record_type,
            "row_key": self.row_key,
            "problems": self.problems,
            "reason": self.reason,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "count": self.count,
            "state": self.state,
        }
        if with_row:
            out["row"] = json.loads(rowjson.dumps(self.row))
            out["partial"] = self.partial
        return out


class Quarantine:
    """The quarantine table; write methods run inside the caller's transaction."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    @staticmethod
    def keep(conn: sqlite3.Connection, item: QuarantineItem, now: str) -> None:
        conn.execute(
            "INSERT INTO quarantine (source, table_key, record_type, row_key, row, "
            "problems, partial, reason, first_seen, last_seen) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (source, record_type, row_key) DO UPDATE SET "
            "row = excluded.row, problems = excluded.problems, "
            "partial = excluded.partial, reason = excluded.reason, "
            "table_key = excluded.table_key, last_seen = excluded.last_seen, "
            "count = quarantine.count + 1, state = 'open'",
            (
                item.source,
                item.table_key,
                item.record_type,
                item.row_key,
                rowjson.dumps(dict(item.row)),
                json.dumps(list(item.problems), ensure_ascii=False),
                rowjson.dumps(item.partial) if item.partial is not None else None,
                item.reason,
                now,
                now,
            ),
        )

    @staticmethod
    def resolve(
        conn: sqlite3.Connection, source: str, resolved: Sequence[tuple[str, str]], now: str
    ) -> None:
        """Close open entries of (record type, row key) that now map cleanly or are excluded."""
        conn.executemany(
            "UPDATE quarantine SET state = 'replayed', last_seen = ? "
            "WHERE source = ? AND record_type = ? AND row_key = ? AND state = 'open'",
            [(now, source, rtype, key) for rtype, key in resolved],
        )

    @staticmethod
    def origin(conn: sqlite3.Connection, entry_id: int) -> tuple[str, str]:
        """(source, table key) of an entry."""
        row = conn.execute(
            "SELECT source, table_key FROM quarantine WHERE id = ?", (entry_id,)
        ).fetchone()
        if row is None:
            raise OutboxError(f"no quarantine entry {entry_id}")
        return str(row[0]), str(row[1])

    @staticmethod
    def close(conn: sqlite3.Connection, entry_id: int, now: str) -> None:
        conn.execute(
            "UPDATE quarantine SET state = 'replayed', last_seen = ? WHERE id = ?",
            (now, entry_id),
        )

    @staticmethod
    def set_problems(
        conn: sqlite3.Connection, entry_id: int, problems: Sequence[Mapping[str, Any]]
    ) -> None:
        conn.execute(
            "UPDATE quarantine SET problems = ? WHERE id = ?",
            (json.dumps(list(problems), ensure_ascii=False), entry_id),
        )

    def entries(self, state: str | None = "open") -> list[QuarantineEntry]:
        sql = (
            "SELECT id, source, table_key, record_type, row_key, row, problems, partial, "
            "reason, first_seen, last_seen, count, state FROM quarantine"
        )
        params: tuple[Any, ...] = ()
        if state is not None:
            sql += " WHERE state = ?"
            params = (state,)
        return [
            QuarantineEntry(
                id=r[0],
                source=r[1],
                table_key=r[2],
                record_type=r[3],
                row_key=r[4],
                row=rowjson.loads(r[5]),
                problems=json.loads(r[6]),
                partial=rowjson.loads(r[7]) if r[7] is not None else None,
                reason=r[8],
                first_seen=r[9],
                last_seen=r[10],
                count=r[11],
                state=r[12],
            )
            for r in self.store.query(sql + " ORDER BY id", params)
        ]

    def open_count(self) -> int:
        return int(self.store.query("SELECT count(*) FROM quarantine WHERE state = 'open'")[0][0])
