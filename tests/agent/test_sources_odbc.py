"""OdbcSource against real drivers: SQLite3 (a file), PostgreSQL Unicode and MariaDB Unicode."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyodbc
import pytest

from agent.sources import Chunk, OdbcSource, SourceSettings, TableSettings
from agent.sources import odbc as odbc_module
from installer.legacy_demo_db import connect, sqlite_odbc

TABLE = "事件"  # a Chinese table name, with awkward column names below


@dataclass
class Backend:
    kind: str  # sqlite | postgresql | mariadb
    odbc: str
    conn: pyodbc.Connection

    def q(self, name: str) -> str:
        return f"`{name}`" if self.kind == "mariadb" else f'"{name}"'

    def time(self, moment: datetime) -> Any:
        # SQLite keeps times as text; the others take datetime parameters.
        return moment.strftime("%Y-%m-%d %H:%M:%S") if self.kind == "sqlite" else moment

    def create_events(self, table: str = TABLE) -> None:
        ts = {"sqlite": "DATETIME", "postgresql": "TIMESTAMP(0)", "mariadb": "DATETIME"}
        text = "TEXT" if self.kind == "sqlite" else "VARCHAR(100)"
        self.conn.execute(
            f"CREATE TABLE {table} ({self.q('编号')} INTEGER PRIMARY KEY, "
            f"{self.q('order')} {text}, {self.q('名称')} {text}, "
            f"{self.q('更新时间')} {ts[self.kind]})"
        )

    def insert(
        self,
        key: int,
        when: datetime,
        name: str = "张三",
        conn: pyodbc.Connection | None = None,
        table: str = TABLE,
    ) -> None:
        (conn or self.conn).execute(
            f"INSERT INTO {table} ({self.q('编号')}, {self.q('order')}, {self.q('名称')}, "
            f"{self.q('更新时间')}) VALUES (?, ?, ?, ?)",
            key,
            f"o{key}",
            name,
            self.time(when),
        )


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        odbc = sqlite_odbc(tmp_path / "legacy.db")
    else:
        fixture = "pg_database" if request.param == "postgresql" else "mariadb_database"
        odbc = request.getfixturevalue(fixture).odbc
    conn = connect(odbc)
    try:
        yield Backend(request.param, odbc, conn)
    finally:
        conn.close()


def events(**kw: Any) -> TableSettings:
    base: dict[str, Any] = {
        "record_type": "SL",
        "table": TABLE,
        "mode": "timestamp",
        "timestamp_column": "更新时间",
        "key_column": "编号",
        "delay_seconds": 60,
        "reread_seconds": 0,
    }
    base.update(kw)
    return TableSettings(**base)


def source(backend: Backend, **kw: Any) -> OdbcSource:
    settings = SourceSettings(name="legacy", connection=backend.odbc, **kw)
    return OdbcSource(settings)


def keys(chunks: list[Chunk]) -> list[int]:
    return [int(row["编号"]) for chunk in chunks for row in chunk.rows]


def local_now(src: OdbcSource) -> datetime:
    """The database's now as the naive local time a legacy system would write."""
    return src.database_now().replace(tzinfo=None, microsecond=0)


def test_reads_all_rows_in_order_then_resumes_from_the_cursor(backend: Backend) -> None:
    backend.create_events()
    with source(backend) as src:
        base = local_now(src) - timedelta(hours=2)
        for key in (3, 1, 2):
            backend.insert(key, base + timedelta(minutes=key))
        first = list(src.read(events(), None))
        assert keys(first) == [1, 2, 3]
        row = first[0].rows[0]
        assert row["名称"] == "张三" and row["order"] == "o1"
        cursor = first[-1].cursor
        assert json.loads(json.dumps(cursor)) == cursor  # stored as JSON by the outbox
        assert cursor["ts"] == (base + timedelta(minutes=3)).isoformat() + "+08:00"
        assert cursor["key"] == 3
        assert list(src.read(events(), cursor)) == []  # nothing new
        backend.insert(4, base + timedelta(minutes=4))
        backend.insert(5, base + timedelta(minutes=5))
        assert keys(list(src.read(events(), cursor))) == [4, 5]


def test_rows_sharing_a_timestamp_across_chunks_and_a_restart_are_all_read(
    backend: Backend,
) -> None:
    backend.create_events()
    with source(backend, fetch_size=2) as src:
        tie = local_now(src) - timedelta(hours=1)
        for key in range(1, 8):
            backend.insert(key, tie)
        backend.insert(8, tie + timedelta(seconds=1))
        chunks = list(src.read(events(), None))
        assert [len(c.rows) for c in chunks] == [2, 2, 2, 2]
        assert keys(chunks) == list(range(1, 9))
        # A restart after the first chunk: resume from its cursor, inside the tie.
        resumed = list(src.read(events(), chunks[0].cursor))
        assert keys(resumed) == list(range(3, 9))


def test_a_late_commit_older_than_the_cursor_is_read_within_the_reread_window(
    backend: Backend,
) -> None:
    backend.create_events()
    writer = pyodbc.connect(backend.odbc, autocommit=False)
    try:
        with source(backend) as src:
            now = local_now(src)
            backend.insert(1, now - timedelta(minutes=10))
            backend.insert(3, now - timedelta(minutes=5))
            # A long transaction wrote its row with an early time but has not committed...
            backend.insert(2, now - timedelta(minutes=8), conn=writer)
            table = events(reread_seconds=600)
            polled = list(src.read(table, None))
            assert keys(polled) == [1, 3]
            cursor = polled[-1].cursor
            # ...and commits after the poll, behind the cursor.
            writer.commit()
            again = list(src.read(table, cursor))
            assert 2 in keys(again)
            assert again[-1].cursor == cursor  # re-read rows never move the cursor back
            # Without the window the late row would be lost: that is what it is for.
            assert 2 not in keys(list(src.read(replace(table, reread_seconds=0), cursor)))
    finally:
        writer.close()


def test_rows_younger_than_the_delay_wait_for_a_later_poll(backend: Backend) -> None:
    backend.create_events()
    with source(backend) as src:
        now = local_now(src)
        backend.insert(1, now - timedelta(minutes=30))
        backend.insert(2, now - timedelta(seconds=5))  # may still have uncommitted siblings
        backend.insert(3, now + timedelta(hours=1))  # a clock ahead: never read early
        table = events(delay_seconds=600)
        polled = list(src.read(table, None))
        assert keys(polled) == [1]
        assert keys(list(src.read(replace(table, delay_seconds=0), polled[-1].cursor))) == [2]


def test_key_mode_reads_after_the_last_key(backend: Backend) -> None:
    backend.create_events()
    when = datetime(2026, 9, 24, 10, 0)
    for key in (5, 1, 3):
        backend.insert(key, when)
    table = events(mode="key", timestamp_column=None)
    with source(backend, fetch_size=2) as src:
        chunks = list(src.read(table, None))
        assert keys(chunks) == [1, 3, 5]
        assert [c.cursor for c in chunks] == [{"key": 3}, {"key": 5}]
        backend.insert(7, when)
        assert keys(list(src.read(table, chunks[-1].cursor))) == [7]
        assert list(src.read(table, {"key": 7})) == []


def test_snapshot_mode_reads_the_whole_table_every_time(backend: Backend) -> None:
    backend.create_events()
    for key in (1, 2, 3):
        backend.insert(key, datetime(2026, 9, 24, 10, 0))
    table = events(mode="snapshot", timestamp_column=None)
    with source(backend) as src:
        first = list(src.read(table, None))
        second = list(src.read(table, first[-1].cursor))
    assert sorted(keys(first)) == sorted(keys(second)) == [1, 2, 3]
    assert "snapshot_at" in first[-1].cursor


def test_a_query_works_like_a_table(backend: Backend) -> None:
    backend.create_events()
    base = datetime(2026, 9, 24, 10, 0)
    for key in (1, 2, 3):
        backend.insert(key, base + timedelta(minutes=key), name=f"n{key}")
    q = backend.q
    query = f"SELECT * FROM {TABLE} WHERE {q('名称')} <> 'n2'"
    with source(backend) as src:
        chunks = list(src.read(events(table=None, query=query), None))
    assert keys(chunks) == [1, 3]


def test_backfill_reads_a_half_open_range_and_counts_it(backend: Backend) -> None:
    backend.create_events()
    base = datetime(2026, 9, 24, 0, 0)
    for key in range(1, 6):
        backend.insert(key, base + timedelta(days=key - 1))
    start, end = base + timedelta(days=1), base + timedelta(days=3)
    aware_start = start.replace(tzinfo=None)
    with source(backend) as src:
        assert keys(list(src.read_range(events(), aware_start, end))) == [2, 3]
        assert src.count(events(), aware_start, end) == 2
        assert src.count(events()) == 5
        # Aware bounds are converted to the source's zone: 2026-09-24T16:00Z is 00:00 local.
        utc_start = datetime.fromisoformat("2026-09-24T16:00:00+00:00")
        assert keys(list(src.read_range(events(), utc_start, None))) == [2, 3, 4, 5]
        by_key = events(mode="key", timestamp_column=None)
        assert keys(list(src.read_range(by_key, 2, 4))) == [2, 3]
        assert src.count(by_key, 4, None) == 2


def test_sample_gives_the_most_recent_rows(backend: Backend) -> None:
    backend.create_events()
    base = datetime(2026, 9, 24, 10, 0)
    for key in range(1, 6):
        backend.insert(key, base + timedelta(minutes=key))
    with source(backend) as src:
        rows = src.sample(events(), 2)
    assert [int(r["编号"]) for r in rows] == [5, 4]
    assert set(rows[0]) == {"编号", "order", "名称", "更新时间"}


def test_database_now_is_the_database_clock_in_the_source_zone(backend: Backend) -> None:
    with source(backend, timezone="Asia/Shanghai") as src:
        now = src.database_now()
    assert now.utcoffset() == timedelta(hours=8)
    # Same machine here, so the database clock and ours agree to well within an hour.
    assert abs(now - datetime.now().astimezone()) < timedelta(hours=1)


def test_schema_qualified_table_on_postgresql(pg_database: Any) -> None:
    conn = connect(pg_database.odbc)
    try:
        conn.execute('CREATE SCHEMA "legacy"')
        backend = Backend("postgresql", pg_database.odbc, conn)
        backend.create_events(table=f'"legacy"."{TABLE}"')
        backend.insert(1, datetime(2026, 9, 24, 10, 0), table=f'"legacy"."{TABLE}"')
        with source(backend) as src:
            chunks = list(src.read(events(table=f"legacy.{TABLE}"), None))
    finally:
        conn.close()
    assert keys(chunks) == [1]


def test_postgresql_results_are_streamed_through_a_server_cursor(pg_database: Any) -> None:
    conn = connect(pg_database.odbc)
    try:
        backend = Backend("postgresql", pg_database.odbc, conn)
        backend.create_events()
        for key in range(1, 11):
            backend.insert(key, datetime(2026, 9, 24, 10, key))
        with source(backend, fetch_size=3) as src:
            chunks = src.read(events(), None)
            first = next(chunks)
            # While the read is under way the rows wait on the server, not in our memory.
            assert src._conn is not None
            open_cursors = src._conn.cursor().execute("SELECT count(*) FROM pg_cursors")
            assert open_cursors.fetchone()[0] >= 1
            assert keys([first, *chunks]) == list(range(1, 11))
    finally:
        conn.close()


@pytest.mark.parametrize("mode", ["timestamp", "key"])
def test_paged_reads_keep_every_row_across_page_boundaries(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    # MariaDB's and SQLite's drivers buffer whole results, so reads there go page by page;
    # one chunk per page makes every chunk boundary a page boundary, inside runs of equal
    # times. (PostgreSQL streams through one server-side cursor: the same result expected.)
    monkeypatch.setattr(odbc_module, "PAGE_CHUNKS", 1)
    backend.create_events()
    base = datetime(2026, 9, 24, 10, 0)
    for key in range(1, 24):
        backend.insert(key, base + timedelta(seconds=key // 7))  # runs of 7 equal times
    table = events() if mode == "timestamp" else events(mode="key", timestamp_column=None)
    with source(backend, fetch_size=3) as src:
        chunks = list(src.read(table, None))
        assert keys(chunks) == list(range(1, 24))
        assert all(len(c.rows) <= 3 for c in chunks)
        resumed = list(src.read(table, chunks[2].cursor))
        assert keys(resumed) == list(range(10, 24))
        assert keys(list(src.read_range(table, None, None))) == list(range(1, 24))


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_zone_aware_columns_arrive_as_local_times_of_the_source(
    request: pytest.FixtureRequest, kind: str
) -> None:
    database = request.getfixturevalue(
        "pg_database" if kind == "postgresql" else "mariadb_database"
    )
    column = "TIMESTAMPTZ" if kind == "postgresql" else "TIMESTAMP"
    conn = connect(database.odbc)
    try:
        # The servers run in UTC here; the instant is 02:00 UTC, 10:00 in Beijing.
        conn.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY, ts {column} NULL)")
        if kind == "postgresql":
            conn.execute("INSERT INTO t VALUES (1, '2026-09-24 02:00:00+00')")
        else:
            conn.execute("SET time_zone = '+00:00'")
            conn.execute("INSERT INTO t VALUES (1, '2026-09-24 02:00:00')")
    finally:
        conn.close()
    settings = SourceSettings(name="tz", connection=database.odbc)
    table = TableSettings(record_type="SL", table="t", timestamp_column="ts")
    with OdbcSource(settings) as src:
        [chunk] = list(src.read(table, None))
        assert chunk.rows[0]["ts"] == datetime(2026, 9, 24, 10, 0)
        assert chunk.cursor["ts"] == "2026-09-24T10:00:00+08:00"
        start = datetime.fromisoformat("2026-09-24T10:00:00+08:00")
        assert src.count(table, start, start + timedelta(seconds=1)) == 1
