"""Property: however polls and restarts cut a table with many equal times, no row is lost."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.sources import OdbcSource, SourceSettings, TableSettings
from installer.legacy_demo_db import connect, sqlite_odbc

BASE = datetime(2026, 9, 24, 9, 0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=40),
    fetch_size=st.integers(min_value=1, max_value=6),
    stops=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=8),
    reread=st.sampled_from([0, 2]),
)
def test_restarting_anywhere_reads_every_row(
    offsets: list[int], fetch_size: int, stops: list[int], reread: int
) -> None:
    """Rows get times from a handful of seconds (so ties abound); the reader is stopped
    after a random number of chunks, again and again, resuming from the last cursor it
    handed out, the way the pipeline resumes from the outbox after a crash."""
    with tempfile.TemporaryDirectory() as folder:
        odbc = sqlite_odbc(Path(folder) / "legacy.db")
        conn = connect(odbc)
        try:
            conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, ts DATETIME)")
            for key, offset in enumerate(offsets, start=1):
                when = BASE + timedelta(seconds=offset)
                conn.execute("INSERT INTO t VALUES (?, ?)", key, f"{when:%Y-%m-%d %H:%M:%S}")
        finally:
            conn.close()
        table = TableSettings(
            record_type="SL", table="t", timestamp_column="ts", reread_seconds=reread
        )
        seen: list[int] = []
        cursor: dict[str, Any] | None = None
        with OdbcSource(SourceSettings(name="p", connection=odbc, fetch_size=fetch_size)) as src:
            for stop in [*stops, 10**6]:  # the last run reads to the end
                chunks = src.read(table, cursor)
                for _ in range(stop):
                    chunk = next(chunks, None)
                    if chunk is None:
                        break
                    seen += [row["id"] for row in chunk.rows]
                    cursor = chunk.cursor
                chunks.close()  # a crash: the rest of this read is never consumed
    assert set(seen) == set(range(1, len(offsets) + 1))
    if reread == 0:
        assert len(seen) == len(offsets)  # without the window, nothing is read twice
