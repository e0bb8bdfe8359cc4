"""The outbox: one SQLite file that holds every captured record until a signed receipt
covers it, the quarantine of rows the mapping could not turn into valid records, the read
cursors of every source table, counters and the last errors.

Guarantees:

- ``commit_chunk`` writes a chunk's records, its quarantined rows and the advanced cursor in
  ONE transaction, so after a crash the cursor is never ahead of the records.
- ``seq`` is AUTOINCREMENT: per-agent monotonic, never reused, even after pruning.
- Records are deduplicated on (record type, business key, version, content hash); pruning
  only clears the body of delivered records, so a re-read or backfill never sends one twice.
- Size bound: :meth:`Outbox.pause_reason` says when polling must stop (too many undelivered
  records or bytes, or the disk's free space under the reserve). Nothing is dropped: the
  legacy database is the replay source, and polling resumes once there is room again.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from exchange_spec import business_key, canonical_bytes, event_time, version
from exchange_spec.canonical import hash_canonical

from . import rowjson
from .errors import OutboxError, OutboxFull

OUTBOX_FILE = "outbox.sqlite3"
KEEP_ERRORS = 50

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    record_type TEXT NOT NULL,
    business_key TEXT NOT NULL,
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    body TEXT,                       -- canonical JSON; cleared when pruned after delivery
    event_time TEXT,
    source TEXT,
    table_key TEXT,
    captured_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'rejected')),
    reject_code TEXT,
    reject_reason TEXT,
    delivered_at TEXT,
    bytes INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS records_dedupe
    ON records (record_type, business_key, version, content_hash);
CREATE INDEX IF NOT EXISTS records_pending ON records (seq) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    table_key TEXT NOT NULL,
    record_type TEXT NOT NULL,
    row_key TEXT NOT NULL,
    row TEXT NOT NULL,               -- the legacy row; stays on this machine
    problems TEXT NOT NULL,
    partial TEXT,
    reason TEXT NOT NULL DEFAULT '',
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'replayed'))
);
CREATE UNIQUE INDEX IF NOT EXISTS quarantine_row
    ON quarantine (source, record_type, row_key);
CREATE TABLE IF NOT EXISTS cursors (
    source TEXT NOT NULL,
    table_key TEXT NOT NULL,
    cursor TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (source, table_key)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS errors (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    place TEXT NOT NULL,
    message TEXT NOT NULL
);
"""


def utc_now() -> datetime:
    return datetime.now(UTC)


def disk_free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


@dataclass(frozen=True)
class Limits:
    """Size bound of the outbox (undelivered records) and the disk space kept free."""

    max_records: int = 1_000_000
    max_bytes: int = 2 * 1024**3
    disk_reserve_bytes: int = 500 * 1024**2


@dataclass(frozen=True)
class OutboxRecord:
    """A valid spec record as stored: identity, hash and canonical body from capture time."""

    record_type: str
    business_key: str
    version: int
    content_hash: str
    body: str
    event_time: str | None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> OutboxRecord:
        canonical = canonical_bytes(record)  # once: the body and its hash (= content_hash)
        return cls(
            record_type=str(record.get("type", "")),
            business_key=business_key(record),
            version=version(record),
            content_hash=hash_canonical(canonical),
            body=canonical.decode("utf-8"),
            event_time=event_time(record),
        )


def _insert_new(
    conn: sqlite3.Connection, rec: OutboxRecord, source: str, table_key: str, now: str
) -> int | None:
    """Insert a record unless the same content is already held; its new seq, else None.

    Looked up first rather than INSERT OR IGNORE: an ignored insert still consumes an
    AUTOINCREMENT value, and a hole in the seqs would show at the collector as lost data.
    """
    held = conn.execute(
        "SELECT 1 FROM records WHERE record_type = ? AND business_key = ? AND version = ? "
        "AND content_hash = ?",
        (rec.record_type, rec.business_key, rec.version, rec.content_hash),
    ).fetchone()
    if held:
        return None
    cur = conn.execute(
        "INSERT INTO records (record_type, business_key, version, content_hash, body, "
        "event_time, source, table_key, captured_at, bytes) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            rec.record_type,
            rec.business_key,
            rec.version,
            rec.content_hash,
            rec.body,
            rec.event_time,
            source,
            table_key,
            now,
            len(rec.body.encode("utf-8")),
        ),
    )
    return int(cur.lastrowid or 0)


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


@dataclass(frozen=True)
class PendingRecord:
    seq: int
    content_hash: str
    body: str
    bytes: int


@dataclass
class ChunkResult:
    added: int = 0
    duplicates: int = 0
    quarantined: int = 0
    seqs: list[int] = field(default_factory=list)


class Outbox:
    """The agent's durable buffer. Thread-safe: one connection guarded by a lock."""

    def __init__(
        self,
        path: Path,
        limits: Limits | None = None,
        *,
        readonly: bool = False,
        free_space: Callable[[Path], int] = disk_free_bytes,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.path = path
        self.limits = limits or Limits()
        self.readonly = readonly
        self._free_space = free_space
        self._clock = clock
        self._lock = threading.RLock()
        try:
            if readonly:
                if not path.exists():
                    raise OutboxError(
                        f"no outbox at {path}: the agent has not run yet (start it with "
                        "`esup-agent run`) / 尚无发件箱，代理尚未运行"
                    )
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 30000")
            if not readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                conn.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise OutboxError(self._explain(exc, "open")) from exc
        self.db = sqlite_utils.Database(conn)
        self._conn = conn

    # -- plumbing ---------------------------------------------------------------------------
    def _explain(self, exc: sqlite3.Error, doing: str) -> str:
        return (
            f"outbox {self.path}: cannot {doing} ({exc}). Fix: check the disk and the "
            "file's permissions; do not delete the file (it holds undelivered records) / "
            "发件箱无法读写，请检查磁盘与权限，勿删除该文件"
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, doing: str) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise OutboxError(f"outbox {self.path} is open read-only; cannot {doing}")
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise OutboxError(self._explain(exc, doing)) from exc

    def _query(self, sql: str, params: Sequence[Any] = (), doing: str = "read") -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise OutboxError(self._explain(exc, doing)) from exc

    def _now(self) -> str:
        return self._clock().isoformat(timespec="milliseconds")

    @staticmethod
    def _count(conn: sqlite3.Connection, name: str, n: int) -> None:
        if n:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE "
                "SET value = CAST(meta.value AS INTEGER) + excluded.value",
                (f"counter.{name}", n),
            )

    # -- capture ----------------------------------------------------------------------------
    def commit_chunk(
        self,
        source: str,
        table_key: str,
        records: Sequence[OutboxRecord],
        quarantined: Sequence[QuarantineItem] = (),
        cursor: Mapping[str, Any] | None = None,
        *,
        excluded: int = 0,
        resolved: Sequence[tuple[str, str]] = (),
    ) -> ChunkResult:
        """Store a chunk's records and quarantined rows and advance the cursor atomically.

        ``cursor=None`` leaves the cursor alone (backfill and replay). ``resolved`` lists
        (record type, row key) of rows that now map cleanly or are excluded (for instance
        corrected in the legacy system): their open quarantine entries are closed."""
        result = ChunkResult()
        now = self._now()
        with self._tx("store a chunk") as conn:
            for rec in records:
                seq = _insert_new(conn, rec, source, table_key, now)
                if seq is not None:
                    result.added += 1
                    result.seqs.append(seq)
                else:
                    result.duplicates += 1
            for item in quarantined:
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
                result.quarantined += 1
            if resolved:
                conn.executemany(
                    "UPDATE quarantine SET state = 'replayed', last_seen = ? "
                    "WHERE source = ? AND record_type = ? AND row_key = ? AND state = 'open'",
                    [(now, source, rtype, key) for rtype, key in resolved],
                )
            if cursor is not None:
                conn.execute(
                    "INSERT INTO cursors (source, table_key, cursor, updated_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (source, table_key) DO UPDATE SET "
                    "cursor = excluded.cursor, updated_at = excluded.updated_at",
                    (source, table_key, json.dumps(dict(cursor), sort_keys=True), now),
                )
            self._count(conn, "captured", result.added)
            self._count(conn, "duplicates", result.duplicates)
            self._count(conn, "quarantined", result.quarantined)
            self._count(conn, "excluded", excluded)
        return result

    def cursor(self, source: str, table_key: str) -> dict[str, Any] | None:
        rows = self._query(
            "SELECT cursor FROM cursors WHERE source = ? AND table_key = ?", (source, table_key)
        )
        return json.loads(rows[0][0]) if rows else None

    def cursors(self) -> list[dict[str, Any]]:
        return [
            {"source": s, "table": t, "cursor": json.loads(c), "updated_at": u}
            for s, t, c, u in self._query(
                "SELECT source, table_key, cursor, updated_at FROM cursors "
                "ORDER BY source, table_key"
            )
        ]

    # -- size bound -------------------------------------------------------------------------
    def pending_count(self) -> int:
        """Undelivered records; from the partial index alone (no bodies read), so the pusher
        can ask before every batch."""
        return int(self._query("SELECT count(*) FROM records WHERE state = 'pending'")[0][0])

    def pending_totals(self) -> tuple[int, int]:
        count, size = self._query(
            "SELECT count(*), coalesce(sum(bytes), 0) FROM records WHERE state = 'pending'"
        )[0]
        return int(count), int(size)

    def pause_reason(self) -> str | None:
        """Why polling must pause now, or None when there is room."""
        count, size = self.pending_totals()
        if count >= self.limits.max_records:
            return (
                f"outbox full: {count} undelivered records (limit outbox.max_records = "
                f"{self.limits.max_records}); polling resumes when delivery catches up / "
                "发件箱已满，暂停采集，待上报后自动恢复"
            )
        if size >= self.limits.max_bytes:
            return (
                f"outbox full: {size} bytes undelivered (limit outbox.max_bytes = "
                f"{self.limits.max_bytes}); polling resumes when delivery catches up / "
                "发件箱已满，暂停采集，待上报后自动恢复"
            )
        try:
            free = self._free_space(self.path.parent)
        except OSError as exc:
            return f"cannot measure free disk space of {self.path.parent}: {exc}"
        if free < self.limits.disk_reserve_bytes:
            return (
                f"disk reserve reached: {free // 2**20} MiB free on {self.path.parent}, "
                f"reserve outbox.disk_reserve_mb = {self.limits.disk_reserve_bytes // 2**20} "
                "MiB; free disk space and polling resumes by itself / "
                "磁盘剩余空间低于保留值，已暂停采集，释放空间后自动恢复"
            )
        return None

    def check_room(self) -> None:
        """Raise OutboxFull when polling must pause; records the condition either way."""
        reason = self.pause_reason()
        current = self.get_meta("paused")
        if reason != current:
            self.set_meta("paused", reason)
        if reason is not None:
            raise OutboxFull(reason)

    # -- delivery ---------------------------------------------------------------------------
    def pending_batch(self, max_records: int, max_bytes: int) -> list[PendingRecord]:
        """The oldest undelivered records, bounded by count and bytes (at least one)."""
        out: list[PendingRecord] = []
        total = 0
        with self._lock:
            try:
                rows = self._conn.execute(
                    "SELECT seq, content_hash, body, bytes FROM records "
                    "WHERE state = 'pending' ORDER BY seq LIMIT ?",
                    (max_records,),
                )
                for seq, chash, body, size in rows:
                    if out and total + size > max_bytes:
                        break
                    out.append(PendingRecord(int(seq), chash, body, int(size)))
                    total += size
            except sqlite3.Error as exc:
                raise OutboxError(self._explain(exc, "read pending records")) from exc
        return out

    def mark_delivered(self, seqs: Sequence[int]) -> int:
        now = self._now()
        with self._tx("mark records delivered") as conn:
            n = 0
            for seq in seqs:
                n += conn.execute(
                    "UPDATE records SET state = 'delivered', delivered_at = ? "
                    "WHERE seq = ? AND state = 'pending'",
                    (now, seq),
                ).rowcount
            self._count(conn, "delivered", n)
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('last_push', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (json.dumps(now),),
            )
        return n

    def mark_rejected(self, rejected: Sequence[tuple[int, str, str]]) -> int:
        """Keep rejected records with the collector's reason; they are not sent again."""
        now = self._now()
        with self._tx("mark records rejected") as conn:
            n = 0
            for seq, code, reason in rejected:
                n += conn.execute(
                    "UPDATE records SET state = 'rejected', reject_code = ?, "
                    "reject_reason = ?, delivered_at = ? WHERE seq = ? AND state = 'pending'",
                    (code, reason, now, seq),
                ).rowcount
            self._count(conn, "rejected", n)
        return n

    def prune(self, retention: timedelta) -> int:
        """Clear the bodies of records delivered before ``retention`` ago; keys stay."""
        before = (self._clock() - retention).isoformat(timespec="milliseconds")
        with self._tx("prune delivered records") as conn:
            return conn.execute(
                "UPDATE records SET body = NULL WHERE state = 'delivered' "
                "AND delivered_at <= ? AND body IS NOT NULL",
                (before,),
            ).rowcount

    def record(self, seq: int) -> dict[str, Any] | None:
        rows = self._query(
            "SELECT seq, record_type, business_key, version, content_hash, body, state, "
            "reject_code, reject_reason FROM records WHERE seq = ?",
            (seq,),
        )
        if not rows:
            return None
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
        return dict(zip(keys, rows[0], strict=True))

    def rejected(self, limit: int = 20) -> list[dict[str, Any]]:
        return [
            {"seq": s, "business_key": k, "code": c, "reason": r, "at": a}
            for s, k, c, r, a in self._query(
                "SELECT seq, business_key, reject_code, reject_reason, delivered_at "
                "FROM records WHERE state = 'rejected' ORDER BY seq DESC LIMIT ?",
                (limit,),
            )
        ]

    # -- quarantine -------------------------------------------------------------------------
    def quarantine(self, state: str | None = "open") -> list[QuarantineEntry]:
        sql = (
            "SELECT id, source, table_key, record_type, row_key, row, problems, partial, "
            "reason, first_seen, last_seen, count, state FROM quarantine"
        )
        params: tuple[Any, ...] = ()
        if state is not None:
            sql += " WHERE state = ?"
            params = (state,)
        out = []
        for r in self._query(sql + " ORDER BY id", params):
            out.append(
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
            )
        return out

    def resolve_quarantined(self, entry_id: int, record: OutboxRecord | None) -> bool:
        """Close a quarantine entry, storing its now-valid record (None: now excluded).

        Returns True when the record was new to the outbox."""
        now = self._now()
        added = False
        with self._tx("replay a quarantined row") as conn:
            row = conn.execute(
                "SELECT source, table_key FROM quarantine WHERE id = ?", (entry_id,)
            ).fetchone()
            if row is None:
                raise OutboxError(f"no quarantine entry {entry_id}")
            if record is not None:
                added = _insert_new(conn, record, row[0], row[1], now) is not None
                self._count(conn, "captured", int(added))
            conn.execute(
                "UPDATE quarantine SET state = 'replayed', last_seen = ? WHERE id = ?",
                (now, entry_id),
            )
        return added

    def update_quarantined(self, entry_id: int, problems: Sequence[Mapping[str, Any]]) -> None:
        with self._tx("update a quarantined row") as conn:
            conn.execute(
                "UPDATE quarantine SET problems = ? WHERE id = ?",
                (json.dumps(list(problems), ensure_ascii=False), entry_id),
            )

    # -- meta, counters, errors -------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: Any) -> None:
        with self._tx("save state") as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, json.dumps(value, ensure_ascii=False)),
            )

    def add_counter(self, name: str, n: int = 1) -> None:
        with self._tx("count") as conn:
            self._count(conn, name, n)

    def counters(self) -> dict[str, int]:
        return {
            k.removeprefix("counter."): int(v)
            for k, v in self._query("SELECT key, value FROM meta WHERE key LIKE 'counter.%'")
        }

    def record_error(self, place: str, message: str) -> None:
        with self._tx("record an error") as conn:
            conn.execute(
                "INSERT INTO errors (at, place, message) VALUES (?, ?, ?)",
                (self._now(), place, message),
            )
            conn.execute(
                "DELETE FROM errors WHERE id <= (SELECT max(id) FROM errors) - ?",
                (KEEP_ERRORS,),
            )

    def last_errors(self, limit: int = 10) -> list[dict[str, str]]:
        return [
            {"at": a, "where": p, "message": m}
            for a, p, m in self._query(
                "SELECT at, place, message FROM errors ORDER BY id DESC LIMIT ?", (limit,)
            )
        ]

    # -- figures for status, heartbeat and metrics ------------------------------------------
    def stats(self) -> dict[str, Any]:
        by_state = dict(self._query("SELECT state, count(*) FROM records GROUP BY state"))
        pending, pending_bytes = self.pending_totals()
        oldest = self._query("SELECT min(captured_at) FROM records WHERE state = 'pending'")[0][0]
        oldest_age = None
        if oldest is not None:
            oldest_age = max(0.0, (self._clock() - datetime.fromisoformat(oldest)).total_seconds())
        last_seq = self._query("SELECT max(seq) FROM records")[0][0]
        quarantined = self._query("SELECT count(*) FROM quarantine WHERE state = 'open'")[0][0]
        return {
            "pending": pending,
            "pending_bytes": pending_bytes,
            "delivered": int(by_state.get("delivered", 0)),
            "rejected": int(by_state.get("rejected", 0)),
            "oldest_pending_captured_at": oldest,
            "oldest_pending_seconds": oldest_age,
            "last_seq": last_seq,
            "quarantined": int(quarantined),
        }
