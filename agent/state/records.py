"""Captured records with their data versions and sequence numbers, until a receipt covers them.

- ``seq`` is AUTOINCREMENT: per-agent monotonic, never reused, even after pruning. When the
  collector says it already holds higher numbers (a state directory restored from a backup),
  :meth:`Records.raise_floor` moves the counter above them and :meth:`Records.renumber` gives a
  refused record a fresh number.
- Data versions: for a record whose SJBBH the mapping does not read from a real column, the
  agent numbers versions itself. It compares the content without SJBBH (``data_hash``) with the
  last version it captured for the same (record type, business key): unchanged is a no-op, a
  change is stored as the last version + 1. Records with a mapped SJBBH are deduplicated on
  (record type, business key, version, content hash) as they come.
- Pruning only clears the body of delivered records, so a re-read or backfill never sends one
  twice; ``table_key``, ``business_key`` and ``event_time`` stay queryable (reconciliation).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from exchange_spec import business_key, canonical_bytes, event_time, version
from exchange_spec.canonical import hash_canonical

from .store import StateStore

#: RFC 8785 orders an object's members by the UTF-16 code units of their names.
_SJBBH_ORDER = "SJBBH".encode("utf-16-be")


def canonical_parts(record: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """The canonical members of ``record`` before and after where SJBBH sorts (without it).

    A canonical object is its members in that order joined by commas, so the record without
    SJBBH and the record at any SJBBH are both made from these two parts: one serialisation
    instead of one per version."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in record.items():
        if name != "SJBBH":
            (before if name.encode("utf-16-be") < _SJBBH_ORDER else after)[name] = value
    return canonical_bytes(before)[1:-1], canonical_bytes(after)[1:-1]


def _joined(*members: bytes) -> bytes:
    return b"{" + b",".join(m for m in members if m) + b"}"


@dataclass(frozen=True)
class OutboxRecord:
    """A valid spec record as captured: identity, hash and canonical body.

    With ``auto_version`` (see :meth:`from_record`) the body and content hash are made when the
    outbox has chosen the version (:meth:`at_version`); until then only ``data_hash`` is set.
    """

    record_type: str
    business_key: str
    version: int
    content_hash: str
    body: str
    event_time: str | None
    data_hash: str | None = None  # content hash without SJBBH: the agent numbers versions
    parts: tuple[bytes, bytes] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_record(cls, record: Mapping[str, Any], *, auto_version: bool = False) -> OutboxRecord:
        """``auto_version``: the record's SJBBH is the mapping's default, not legacy data, so
        the outbox gives a changed record the next version itself."""
        record_type, key = str(record.get("type", "")), business_key(record)
        data_version, when = version(record), event_time(record)
        if auto_version and "SJBBH" in record:
            parts = canonical_parts(record)
            return cls(
                record_type,
                key,
                data_version,
                content_hash="",
                body="",
                event_time=when,
                data_hash=hash_canonical(_joined(*parts)),
                parts=parts,
            )
        canonical = canonical_bytes(record)  # once: the body and its hash (= content_hash)
        return cls(
            record_type,
            key,
            data_version,
            content_hash=hash_canonical(canonical),
            body=canonical.decode("utf-8"),
            event_time=when,
        )

    @property
    def auto_version(self) -> bool:
        return self.data_hash is not None

    def at_version(self, number: int) -> OutboxRecord:
        """This record with SJBBH = ``number``, its canonical body and content hash."""
        if self.parts is None:
            raise ValueError("only a record captured with auto_version can be renumbered")
        canonical = _joined(self.parts[0], b'"SJBBH":%d' % number, self.parts[1])
        return replace(
            self,
            version=number,
            content_hash=hash_canonical(canonical),
            body=canonical.decode("utf-8"),
        )


@dataclass(frozen=True)
class PendingRecord:
    seq: int
    content_hash: str
    body: str
    bytes: int


class Records:
    """The records table; write methods run inside the caller's transaction (``conn``)."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    # -- capture ----------------------------------------------------------------------------
    def capture(
        self, conn: sqlite3.Connection, rec: OutboxRecord, source: str, table_key: str, now: str
    ) -> tuple[int, int] | None:
        """Store a record unless the same content is already held; its new seq and size in
        bytes, else None.

        Looked up first rather than INSERT OR IGNORE: an ignored insert still consumes an
        AUTOINCREMENT value, and a hole in the seqs would show at the collector as lost data.
        """
        if rec.auto_version:
            numbered = self._next_version(conn, rec)
            if numbered is None:
                return None
            rec = numbered
        elif conn.execute(
            "SELECT 1 FROM records WHERE record_type = ? AND business_key = ? AND version = ? "
            "AND content_hash = ?",
            (rec.record_type, rec.business_key, rec.version, rec.content_hash),
        ).fetchone():
            return None
        size = len(rec.body.encode("utf-8"))
        cur = conn.execute(
            "INSERT INTO records (record_type, business_key, version, content_hash, data_hash, "
            "body, event_time, source, table_key, captured_at, bytes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rec.record_type,
                rec.business_key,
                rec.version,
                rec.content_hash,
                rec.data_hash,
                rec.body,
                rec.event_time,
                source,
                table_key,
                now,
                size,
            ),
        )
        return int(cur.lastrowid or 0), size

    @staticmethod
    def _next_version(conn: sqlite3.Connection, rec: OutboxRecord) -> OutboxRecord | None:
        """``rec`` at the version it gets: the mapped one for a new key, the last captured + 1
        for changed content; None when the content is the last captured one."""
        last = conn.execute(
            "SELECT version, data_hash, content_hash FROM records "
            "WHERE record_type = ? AND business_key = ? ORDER BY version DESC, seq DESC LIMIT 1",
            (rec.record_type, rec.business_key),
        ).fetchone()
        if last is None:
            return rec.at_version(rec.version)
        last_version, last_data, last_content = int(last[0]), last[1], last[2]
        if last_data is not None:
            unchanged = last_data == rec.data_hash
        else:  # captured by an agent before version 2: compare at that version
            unchanged = rec.at_version(last_version).content_hash == last_content
        if unchanged:
            return None
        return rec.at_version(max(last_version + 1, rec.version))

    # -- sequence numbers -------------------------------------------------------------------
    @staticmethod
    def last_seq(conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
        return int(row[0]) if row else 0

    def raise_floor(self, conn: sqlite3.Connection, floor: int) -> bool:
        """Make the next seq greater than ``floor`` (the collector's last); True if it moved."""
        if self.last_seq(conn) >= floor:
            return False
        if (
            conn.execute(
                "UPDATE sqlite_sequence SET seq = ? WHERE name = 'records'", (floor,)
            ).rowcount
            == 0
        ):
            conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('records', ?)", (floor,))
        return True

    def renumber(self, conn: sqlite3.Connection, seqs: Sequence[int], floor: int) -> int:
        """Give pending records fresh seqs above ``floor`` and every seq used; how many moved."""
        self.raise_floor(conn, floor)
        top = self.last_seq(conn)
        moved = 0
        for seq in sorted(seqs):
            if conn.execute(
                "UPDATE records SET seq = ? WHERE seq = ? AND state = 'pending'", (top + 1, seq)
            ).rowcount:
                top += 1
                moved += 1
        conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = 'records'", (top,))
        return moved

    def next_version(self, conn: sqlite3.Connection, seq: int, floor: int, now: str) -> str | None:
        """A pending record the agent numbered whose version the collector already holds with
        other content (its state directory was restored from a backup, so it numbered from an
        older last version): send it again as the next version, under a fresh seq.

        Returns None when done, else why the record is kept as rejected instead: its version
        came from the legacy data, or a later capture of the same key carries newer content."""
        row = conn.execute(
            "SELECT record_type, business_key, version, body, data_hash, event_time, source, "
            "table_key, captured_at FROM records WHERE seq = ? AND state = 'pending'",
            (seq,),
        ).fetchone()
        if row is None or row[4] is None or row[3] is None:
            return "the version comes from the department's system"
        rtype, key, number = row[0], row[1], int(row[2])
        newest = conn.execute(
            "SELECT max(version) FROM records WHERE record_type = ? AND business_key = ?",
            (rtype, key),
        ).fetchone()[0]
        if int(newest) > number:
            return "a later capture of the same record carries newer content"
        body = canonical_bytes({**json.loads(row[3]), "SJBBH": number + 1})
        self.raise_floor(conn, floor)
        new_seq = self.last_seq(conn) + 1
        # Deleted and inserted, not updated: the running totals follow inserts and deletes.
        conn.execute("DELETE FROM records WHERE seq = ?", (seq,))
        conn.execute(
            "INSERT INTO records (seq, record_type, business_key, version, content_hash, "
            "data_hash, body, event_time, source, table_key, captured_at, bytes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new_seq,
                rtype,
                key,
                number + 1,
                hash_canonical(body),
                row[4],
                body.decode("utf-8"),
                row[5],
                row[6],
                row[7],
                row[8] or now,
                len(body),
            ),
        )
        return None

    # -- delivery ---------------------------------------------------------------------------
    def pending_batch(self, max_records: int, max_bytes: int) -> list[PendingRecord]:
        """The oldest undelivered records, bounded by count and bytes (at least one)."""
        out: list[PendingRecord] = []
        total = 0
        with self.store.reading("read pending records") as conn:
            rows = conn.execute(
                "SELECT seq, content_hash, body, bytes FROM records "
                "WHERE state = 'pending' ORDER BY seq LIMIT ?",
                (max_records,),
            )
            for seq, chash, body, size in rows:
                if out and total + size > max_bytes:
                    break
                out.append(PendingRecord(int(seq), chash, body, int(size)))
                total += size
        return out

    @staticmethod
    def mark_delivered(conn: sqlite3.Connection, seqs: Sequence[int], now: str) -> int:
        return sum(
            conn.execute(
                "UPDATE records SET state = 'delivered', delivered_at = ? "
                "WHERE seq = ? AND state = 'pending'",
                (now, seq),
            ).rowcount
            for seq in seqs
        )

    @staticmethod
    def mark_rejected(
        conn: sqlite3.Connection, rejected: Sequence[tuple[int, str, str]], now: str
    ) -> int:
        return sum(
            conn.execute(
                "UPDATE records SET state = 'rejected', reject_code = ?, "
                "reject_reason = ?, delivered_at = ? WHERE seq = ? AND state = 'pending'",
                (code, reason, now, seq),
            ).rowcount
            for seq, code, reason in rejected
        )

    @staticmethod
    def prune(conn: sqlite3.Connection, before: str) -> int:
        return conn.execute(
            "UPDATE records SET body = NULL WHERE state = 'delivered' "
            "AND delivered_at <= ? AND body IS NOT NULL",
            (before,),
        ).rowcount

    # -- figures ----------------------------------------------------------------------------
    def pending_count(self) -> int:
        return self.pending_totals()[0]

    def pending_totals(self) -> tuple[int, int]:
        """Undelivered records and their bytes: running totals, no body read."""
        if self.store.schema_version >= 2:
            count, size = self.store.query("SELECT records, bytes FROM pending_totals")[0]
        else:  # a read-only look at a file the new agent has not opened yet
            count, size = self.store.query(
                "SELECT count(*), coalesce(sum(bytes), 0) FROM records WHERE state = 'pending'"
            )[0]
        return int(count), int(size)

    def record(self, seq: int) -> dict[str, Any] | None:
        keys = (
            "seq",
            "record_type",
            "business_key",
            "version",
            "content_hash",
            "body",
            "state",
            "reject_code",
            "reject_reason",
        )
        rows = self.store.query(f"SELECT {', '.join(keys)} FROM records WHERE seq = ?", (seq,))
        return dict(zip(keys, rows[0], strict=True)) if rows else None

    def rejected(self, limit: int = 20) -> list[dict[str, Any]]:
        return [
            {"seq": s, "business_key": k, "code": c, "reason": r, "at": a}
            for s, k, c, r, a in self.store.query(
                "SELECT seq, business_key, reject_code, reject_reason, delivered_at "
                "FROM records WHERE state = 'rejected' ORDER BY seq DESC LIMIT ?",
                (limit,),
            )
        ]

    def by_state(self) -> dict[str, int]:
        return {
            str(s): int(n)
            for s, n in self.store.query("SELECT state, count(*) FROM records GROUP BY state")
        }

    def oldest_pending(self) -> str | None:
        rows = self.store.query("SELECT min(captured_at) FROM records WHERE state = 'pending'")
        return str(rows[0][0]) if rows[0][0] is not None else None

    def highest_seq(self) -> int | None:
        value = self.store.query("SELECT max(seq) FROM records")[0][0]
        return int(value) if value is not None else None
