"""The one SQLite connection every part of the agent's state shares, and its schema.

WAL mode with synchronous=FULL (a power cut loses nothing committed); one connection guarded by
a lock, so the pipelines, the pusher and the heartbeat threads never interleave statements;
:meth:`StateStore.transaction` is the one way to write, so a chunk's records, quarantined rows,
cursor and counters land together or not at all.

The schema is versioned with ``PRAGMA user_version``. Version 1 is the single-module outbox of
earlier agents (``user_version`` 0 on disk); an existing file is migrated in place when the
agent opens it for writing. A read-only open (``esup-agent status``) never migrates: the readers
that need a later version fall back to what version 1 holds.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import OutboxError

OUTBOX_FILE = "outbox.sqlite3"

SCHEMA_V1 = """
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

#: Version 2: the agent numbers data versions itself (``data_hash``: the content hash without
#: SJBBH), and the undelivered count and bytes are kept as running totals by triggers, so the
#: disk reserve can be checked before every chunk without reading every pending body.
SCHEMA_V2 = """
ALTER TABLE records ADD COLUMN data_hash TEXT;
-- Earlier agents stopped on any 401/403, a proxy's page included; only a signed refusal
-- stops now, and a revoked agent gets one again at its next push.
DELETE FROM meta WHERE key = 'push_stopped';
CREATE TABLE pending_totals (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    records INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
INSERT INTO pending_totals (id, records, bytes)
    SELECT 1, count(*), coalesce(sum(bytes), 0) FROM records WHERE state = 'pending';
CREATE TRIGGER pending_added AFTER INSERT ON records WHEN NEW.state = 'pending' BEGIN
    UPDATE pending_totals SET records = records + 1, bytes = bytes + NEW.bytes WHERE id = 1;
END;
CREATE TRIGGER pending_settled AFTER UPDATE OF state ON records
    WHEN OLD.state = 'pending' AND NEW.state <> 'pending' BEGIN
    UPDATE pending_totals SET records = records - 1, bytes = bytes - OLD.bytes WHERE id = 1;
END;
CREATE TRIGGER pending_reopened AFTER UPDATE OF state ON records
    WHEN OLD.state <> 'pending' AND NEW.state = 'pending' BEGIN
    UPDATE pending_totals SET records = records + 1, bytes = bytes + NEW.bytes WHERE id = 1;
END;
CREATE TRIGGER pending_removed AFTER DELETE ON records WHEN OLD.state = 'pending' BEGIN
    UPDATE pending_totals SET records = records - 1, bytes = bytes - OLD.bytes WHERE id = 1;
END;
"""

SCHEMA_VERSION = 2
MIGRATIONS = {2: SCHEMA_V2}


def utc_now() -> datetime:
    return datetime.now(UTC)


class StateStore:
    """The shared connection: a lock, transactions, queries and errors in department words."""

    def __init__(
        self,
        path: Path,
        *,
        readonly: bool = False,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.path = path
        self.readonly = readonly
        self.clock = clock
        self.lock = threading.RLock()
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
            self._conn = conn
            if not readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                self._migrate()
            self.schema_version = int(conn.execute("PRAGMA user_version").fetchone()[0]) or 1
        except sqlite3.Error as exc:
            raise OutboxError(self.explain(exc, "open")) from exc

    def _migrate(self) -> None:
        conn = self._conn
        conn.executescript(SCHEMA_V1)  # a new file, or the tables of an agent before version 2
        on_disk = int(conn.execute("PRAGMA user_version").fetchone()[0]) or 1
        for target in range(on_disk + 1, SCHEMA_VERSION + 1):
            # executescript commits what is open first; the whole step is one transaction.
            try:
                conn.executescript(
                    f"BEGIN IMMEDIATE;\n{MIGRATIONS[target]}\nPRAGMA user_version = {target};\n"
                    "COMMIT;"
                )
            except sqlite3.Error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def explain(self, exc: sqlite3.Error, doing: str) -> str:
        return (
            f"outbox {self.path}: cannot {doing} ({exc}). Fix: check the disk and the "
            "file's permissions; do not delete the file (it holds undelivered records) / "
            "发件箱无法读写，请检查磁盘与权限，勿删除该文件"
        )

    def close(self) -> None:
        with self.lock:
            self._conn.close()

    def now(self) -> str:
        return self.clock().isoformat(timespec="milliseconds")

    @contextmanager
    def transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE); SQLite errors become OutboxError."""
        if self.readonly:
            raise OutboxError(f"outbox {self.path} is open read-only; cannot {doing}")
        with self.lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")  # e.g. COMMIT itself failed: disk full
                raise OutboxError(self.explain(exc, doing)) from exc

    def query(self, sql: str, params: Sequence[Any] = (), doing: str = "read") -> list[Any]:
        with self.lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise OutboxError(self.explain(exc, doing)) from exc

    @contextmanager
    def reading(self, doing: str) -> Iterator[sqlite3.Connection]:
        """The connection for a streamed read under the lock."""
        with self.lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise OutboxError(self.explain(exc, doing)) from exc

    # -- the meta table: small facts owned by the link and the statistics, never by callers
    def value(self, key: str) -> Any:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    @staticmethod
    def put(conn: sqlite3.Connection, key: str, value: Any) -> None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value, ensure_ascii=False)),
        )
