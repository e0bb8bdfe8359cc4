"""A full sweep over N open cases on PostgreSQL and SQLite: seconds and cases per second.

Compared in the same run with the raw limits of the store: reading every open case's SL body
into Python (the driver's fetch and JSON decoding, nothing else), and writing the same clock
and verdict rows the sweep wrote with plain INSERT ... SELECT into copies of the two tables
(same columns and indexes), i.e. the database's own write cost without any evaluation.

Each case is one SL record (5 working days promised, accepted on a day spread over 2026,
received an hour after its event), so the sweep loads, evaluates and writes a clock for
every case and issues the verdicts that are due. Data is generated inside the database
(generate_series / a recursive CTE) so loading is not what is measured.

Run:
  .venv/bin/python bench/bench_sweep.py --cases 100000
  .venv/bin/python bench/bench_sweep.py --cases 1000000 --only postgresql
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from collector.clock import SHANGHAI
from collector.engine.sweep import run_sweep
from collector.store.engine import make_engine
from collector.store.migrate import upgrade

DEPT = "11430700MB1534211G"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

_PG_FILL = """
INSERT INTO record_versions (business_key, record_type, sblsh, sjbbh, content_hash, body,
                             department, event_time, received_at, source)
SELECT 'SL|B' || lpad(i::text, 9, '0'), 'SL', 'B' || lpad(i::text, 9, '0'), 1,
       md5(i::text) || md5(i::text),
       json_build_object('spec', '1.0', 'type', 'SL', 'SBLSH', 'B' || lpad(i::text, 9, '0'),
                         'SXBM', 'X1', 'BMBM', CAST(:dept AS text), 'SJBBH', 1,
                         'SLZTDM', '1',
                         'SLSJ', to_char(timestamp '2026-01-05 10:00'
                                         + (i % 330) * interval '1 day',
                                         'YYYY-MM-DD"T"HH24:MI:SS"+08:00"'),
                         'GDBLSX', 5, 'GDBLSXDW', 'G'),
       CAST(:dept AS text),
       to_char(timestamp '2026-01-05 10:00' + (i % 330) * interval '1 day',
               'YYYY-MM-DD"T"HH24:MI:SS"+08:00"'),
       timestamptz '2026-01-05 03:00+00' + (i % 330) * interval '1 day',
       'bench'
FROM generate_series(1, :n) AS i
"""

_SQLITE_FILL = """
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :n)
INSERT INTO record_versions (business_key, record_type, sblsh, sjbbh, content_hash, body,
                             department, event_time, received_at, source)
SELECT 'SL|B' || printf('%09d', i), 'SL', 'B' || printf('%09d', i), 1,
       printf('%064d', i),
       json_object('spec', '1.0', 'type', 'SL', 'SBLSH', 'B' || printf('%09d', i),
                   'SXBM', 'X1', 'BMBM', :dept, 'SJBBH', 1, 'SLZTDM', '1',
                   'SLSJ', strftime('%Y-%m-%dT%H:%M:%S+08:00', '2026-01-05 10:00',
                                    '+' || (i % 330) || ' days'),
                   'GDBLSX', 5, 'GDBLSXDW', 'G'),
       :dept,
       strftime('%Y-%m-%dT%H:%M:%S+08:00', '2026-01-05 10:00', '+' || (i % 330) || ' days'),
       strftime('%Y-%m-%d %H:%M:%S.000000', '2026-01-05 03:00', '+' || (i % 330) || ' days'),
       'bench'
FROM seq
"""

_CURRENT = """
INSERT INTO records_current (business_key, record_type, sblsh, sjbbh, version_id, body,
                             department, event_time, received_at)
SELECT business_key, record_type, sblsh, sjbbh, id, body, department, event_time, received_at
FROM record_versions
"""


def fill(engine: Engine, n: int) -> float:
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO departments (code, name) VALUES (:d, '')"), {"d": DEPT})
        sql = _PG_FILL if engine.dialect.name == "postgresql" else _SQLITE_FILL
        conn.execute(text(sql), {"n": n, "dept": DEPT})
        conn.execute(text(_CURRENT))
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    return time.perf_counter() - started


def raw_fetch(engine: Engine) -> float:
    """Seconds to read every SL body into Python through the driver."""
    started = time.perf_counter()
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=10_000).execute(
            text("SELECT sblsh, body FROM records_current WHERE record_type = 'SL'")
        )
        for _ in result:
            pass
    return time.perf_counter() - started


def raw_insert(engine: Engine) -> float:
    """Seconds to insert the sweep's clock and verdict rows again into indexed copies."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in ("case_clocks", "verdicts"):
                conn.execute(text(f"CREATE TABLE raw_{table} (LIKE {table} INCLUDING ALL)"))
        else:
            for table in ("case_clocks", "verdicts"):
                ddl = conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                    {"t": table},
                ).scalar_one()
                conn.execute(text(ddl.replace(f"TABLE {table}", f"TABLE raw_{table}", 1)))
                for (index_sql,) in conn.execute(
                    text(
                        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t "
                        "AND sql IS NOT NULL"
                    ),
                    {"t": table},
                ):
                    conn.execute(
                        text(
                            index_sql.replace(" ON ", " ON raw_", 1).replace(
                                "INDEX ", "INDEX raw_", 1
                            )
                        )
                    )
    started = time.perf_counter()
    with engine.begin() as conn:
        for table in ("case_clocks", "verdicts"):
            conn.execute(text(f"INSERT INTO raw_{table} SELECT * FROM {table}"))
    return time.perf_counter() - started


def bench(name: str, url: str, n: int, profile: bool, workers: int | None = None) -> None:
    engine = make_engine(url)
    upgrade(engine)
    loaded = fill(engine, n)
    at = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)
    run_sweep(engine, mode="cases", cases=[], at=at)  # seed the calendar, record the rules
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    result = run_sweep(engine, at=at, workers=workers)
    if profiler:
        profiler.disable()
    elapsed = time.perf_counter() - started
    again_started = time.perf_counter()
    again = run_sweep(engine, at=at + timedelta(minutes=10))
    again_elapsed = time.perf_counter() - again_started
    print(
        f"{name:<11} {n:>9,} cases: generated in {loaded:6.1f} s; first sweep {elapsed:7.1f} s "
        f"= {result.cases / elapsed:>9,.0f} cases/s (new verdicts {dict(result.new)}); "
        f"second sweep 10 min later {again_elapsed:6.1f} s, {again.cases} cases due for a "
        f"recheck (new {sum(again.new.values())})"
    )
    fetch = raw_fetch(engine)
    insert = raw_insert(engine)
    print(
        f"{'':<11} raw limits: fetch every SL body {fetch:6.1f} s; insert the same clock and "
        f"verdict rows {insert:6.1f} s; sweep / (fetch + insert) = "
        f"{elapsed / (fetch + insert):.1f}x"
    )
    if profiler:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(
            "collector/engine|collector/clock", 25
        )
        print(out.getvalue())
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["postgresql", "sqlite"])
    parser.add_argument("--profile", action="store_true", help="print where the time goes")
    parser.add_argument(
        "--workers", type=int, default=None, help="sweep worker processes (default: per core)"
    )
    args = parser.parse_args()
    if args.only != "sqlite":
        name = f"bench_sweep_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            bench(
                "postgresql",
                PG_ADMIN.rsplit("/", 1)[0] + f"/{name}",
                args.cases,
                args.profile,
                args.workers,
            )
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            bench(
                "sqlite",
                f"sqlite:///{Path(tmp) / 'bench.db'}",
                args.cases,
                args.profile,
                args.workers,
            )


if __name__ == "__main__":
    main()
