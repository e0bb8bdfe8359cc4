"""Engines for the store: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL (psycopg).

A SQLite store file is created 0600 before SQLite opens it (SQLite gives its -wal and -shm
files the database file's mode), and looser modes left from before are tightened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from ..errors import StoreError
from ..private_files import private_file, private_files_if_present


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; SQLite connections get the pragmas the collector needs."""
    try:
        # orjson parses the stored record bodies several times faster than the json module;
        # the sweep reads every open case's records, so this is most of its read cost.
        if url.startswith("sqlite"):
            _private_sqlite_files(url)
            engine = create_engine(
                url, connect_args={"timeout": 30}, json_deserializer=orjson.loads
            )
            _tune_sqlite(engine)
            return engine
        return create_engine(url, pool_pre_ping=True, json_deserializer=orjson.loads)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise StoreError(f"store_url {url!r} cannot be used: {exc}") from exc


def _private_sqlite_files(url: str) -> None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite says so when it connects, in its own words
    private_file(path, "SQLite store")
    private_files_if_present(
        [
            (path.with_name(path.name + "-wal"), "SQLite write-ahead log"),
            (path.with_name(path.name + "-shm"), "SQLite shared-memory index"),
        ]
    )


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss, and a
        # receipt sent for them makes the agent drop its copy. Batches are few and large, so
        # one fsync per commit is cheap.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: two writers queue on busy_timeout instead
        # of failing with "database is locked" when a read lock is upgraded.
        conn.exec_driver_sql("BEGIN IMMEDIATE")
