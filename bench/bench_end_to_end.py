"""End to end: records from a legacy table to the collector's store, records/s.

    python bench/bench_end_to_end.py [--rows 1000000] [--store sqlite|postgresql|both]

A real collector process (SQLite file, or a fresh PostgreSQL database on 127.0.0.1) and a
real agent process reading the legacy SQLite database through the SQLite ODBC driver
(record type SL). The clock runs from the agent's start until the collector holds every
record. For comparison, the same run prints the raw insert rate of the same number of
rows into the same kind of store (executemany of small rows, no validation, no protocol).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.legacy_data import build  # noqa: E402
from tests.integration.processes import (  # noqa: E402
    BIN,
    Proc,
    collector_proc,
    free_port,
    run_cli,
    wait_http,
)

DEPARTMENT = "114307020000000001"
MAPPING = HERE.parent / "agent" / "mapping" / "examples" / "legacy_demo.toml"


def agent_config(db: Path, url: str) -> str:
    return f"""
[agent]
department = "{DEPARTMENT}"
state_dir = "state"
[collector]
url = "{url}"
[outbox]
max_records = 5000000
batch_max_records = 1000
batch_max_bytes = 4194304
[push]
interval_seconds = 1
[metrics]
enabled = false
[[sources]]
name = "legacy"
connection = "Driver={{SQLite3}};Database={db}"
mapping = "{MAPPING}"
poll_seconds = 1
fetch_size = 2000
[[sources.tables]]
record_type = "SL"
table = "T_SQ_SLXX"
timestamp_column = "XGSJ"
key_column = "ID"
delay_seconds = 0
"""


def pg_database() -> str:
    import psycopg

    name = f"esup_bench_{secrets.token_hex(4)}"
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def count(store: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(store)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM records_current")).scalar_one())
    except Exception:  # the store may not be migrated yet
        return 0
    finally:
        engine.dispose()


def cpu_seconds(proc: Proc) -> float:
    """CPU time (user + system) a process has used so far, from /proc (Linux)."""
    assert proc.popen is not None
    fields = Path(f"/proc/{proc.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_insert(store: str, n: int) -> float:
    """Rows/s of a plain executemany of n small rows into the same kind of database."""
    rows = [(i, f"key-{i}", '{"spec":"1.0","type":"SL"}') for i in range(n)]
    started = time.perf_counter()
    if store.startswith("sqlite"):
        path = Path(store.removeprefix("sqlite:///")).with_name("raw.db")
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, body TEXT)")
        for i in range(0, n, 1000):
            db.executemany("INSERT INTO t VALUES (?, ?, ?)", rows[i : i + 1000])
            db.commit()
        db.close()
    else:
        import psycopg

        dsn = store.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as c:
            c.execute("CREATE TABLE raw_t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, body TEXT)")
            with c.cursor() as cur:
                for i in range(0, n, 1000):
                    cur.executemany("INSERT INTO raw_t VALUES (%s, %s, %s)", rows[i : i + 1000])
                    c.commit()
    return n / (time.perf_counter() - started)


def run(kind: str, legacy_db: Path, workdir: Path, expected: int) -> None:
    work = workdir / f"e2e-{kind}"
    subprocess.run(["rm", "-rf", str(work)], check=True)
    cdir = work / "collector"
    cdir.mkdir(parents=True)
    store = f"sqlite:///{cdir / 'collector.db'}" if kind == "sqlite" else pg_database()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    collector = collector_proc(cdir, port, store).start()
    agent = None
    try:
        wait_http(url + "/", 60, collector.log)
        adir = work / "agent"
        adir.mkdir()
        (adir / "agent.toml").write_text(agent_config(legacy_db, url), "utf-8")
        out = run_cli(
            "esup-collector", "agents", "token", "--data-dir", str(cdir), "--store", store,
            "--department", DEPARTMENT, "--name", "基准部门",
        ).stdout  # fmt: skip
        token = next(x.split()[1] for x in out.splitlines() if x.startswith("token:"))
        run_cli("esup-agent", "enrol", "-c", str(adir / "agent.toml"), "--token", token)
        started = time.perf_counter()
        agent = Proc([str(BIN / "esup-agent"), "run", "-c", str(adir / "agent.toml")],
                     adir / "agent.log").start()  # fmt: skip
        held = 0
        while held < expected:
            time.sleep(2)
            held = count(store)
            if not agent.alive or not collector.alive:
                raise SystemExit(f"a process died; see {adir / 'agent.log'}, {collector.log}")
        seconds = time.perf_counter() - started
        # Where the time went: CPU of each process (the PostgreSQL server's is not counted).
        busy = f"CPU s: collector {cpu_seconds(collector):.1f}, agent {cpu_seconds(agent):.1f}"
        raw = raw_insert(store, min(expected, 200_000))
        print(f"end to end ({kind:10}) {held:>9,} records  {seconds:7.1f} s  "
              f"{held / seconds:>8,.0f} records/s   raw insert {raw:>9,.0f} rows/s")  # fmt: skip
        print(f"  {busy}")
    finally:
        if agent is not None:
            agent.kill()
        collector.kill()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--workdir", default="/tmp/esup-bench")
    args = ap.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / f"legacy-{args.rows}.db"
    if not db.exists():
        print(f"building legacy database with {args.rows:,} applications at {db} ...")
        build(db, args.rows)
    # The demo mapping excludes secret-level items (every tenth case).
    expected = sum(1 for i in range(1, args.rows + 1) if i % 10)
    for kind in ("sqlite", "postgresql") if args.store == "both" else (args.store,):
        run(kind, db, workdir, expected)


if __name__ == "__main__":
    main()
