"""A large legacy database for benchmarks: the demo's tables with N applications.

Rows are written with Python's sqlite3 module in chunks (fast, flat memory); the agent
then reads them through the SQLite ODBC driver like any legacy database.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from installer import legacy_demo_db as legacy

#: Case 0 of the benchmark: far enough back that a million cases, 37 minutes apart, all
#: lie in the past (the agent never reads past the database's own now).
BENCH_START = datetime(1950, 1, 1, 8, 0)


def build(path: Path, rows: int, *, chunk: int = 20_000) -> None:
    if path.exists():
        path.unlink()
    odbc = legacy.sqlite_odbc(path)
    conn = legacy.connect(odbc)
    try:
        legacy.create_legacy_schema(conn, "sqlite")
    finally:
        conn.close()
    db = sqlite3.connect(path)
    slxx = ", ".join("?" for _ in legacy.SLXX_COLUMNS)
    bjxx = ", ".join("?" for _ in legacy.BJXX_COLUMNS)
    for first in range(1, rows + 1, chunk):
        part = legacy.demo_applications(min(rows, first + chunk - 1), BENCH_START, first=first)
        db.executemany(f"INSERT INTO T_SQ_SLXX VALUES ({slxx})", part.applications)
        db.executemany(f"INSERT INTO T_SP_BJXX VALUES ({bjxx})", part.completions)
        db.commit()
    # The agent compares SQLite times normalised with datetime(): an index on that
    # expression lets each page of a large backlog start where the last one ended.
    db.execute("CREATE INDEX slxx_xgsj ON T_SQ_SLXX (datetime(XGSJ), ID)")
    db.execute("CREATE INDEX bjxx_xgsj ON T_SP_BJXX (datetime(XGSJ), ID)")
    db.commit()
    db.close()
