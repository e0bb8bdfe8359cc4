"""Agent capture throughput over ODBC, beside the raw driver's fetch rate in the same run.

    python bench/bench_agent_capture.py [--rows 1000000] [--workdir /tmp/esup-bench]

Builds a legacy SQLite database with N applications (the demo's T_SQ_SLXX table), then in
separate processes (so each peak RSS is its own):
  raw    pyodbc through the SQLite ODBC driver: the same ordered query, fetchmany(1000)
  agent  the agent's pipeline: read, map (demo mapping), validate, hash, and commit to a
         fresh outbox with the cursor, for record type SL
Prints rows/s and peak RSS of each, and the agent's share of the raw rate.
Target (issue 3): agent >= 1/3 of raw, peak RSS < 150 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

QUERY = 'SELECT * FROM "T_SQ_SLXX" ORDER BY "XGSJ", "ID"'


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def raw(db: Path) -> dict[str, float]:
    import pyodbc

    conn = pyodbc.connect(f"Driver={{SQLite3}};Database={db}")
    cur = conn.cursor()
    started, cpu = time.perf_counter(), time.process_time()
    cur.execute(QUERY)
    n = 0
    while rows := cur.fetchmany(1000):
        n += len(rows)
    seconds = time.perf_counter() - started
    return {
        "rows": n,
        "seconds": seconds,
        "cpu": time.process_time() - cpu,
        "rss_mb": peak_rss_mb(),
    }


def agent(db: Path, workdir: Path) -> dict[str, float]:
    from agent.pipeline import Pipeline
    from agent.sources import SourceSettings, TableSettings
    from agent.state import Outbox

    mapping = HERE.parent / "agent" / "mapping" / "examples" / "legacy_demo.toml"
    settings = SourceSettings(
        name="bench",
        connection=f"Driver={{SQLite3}};Database={db}",
        fetch_size=1000,
        mapping=str(mapping),
        tables=(
            TableSettings(
                record_type="SL",
                table="T_SQ_SLXX",
                timestamp_column="XGSJ",
                key_column="ID",
                delay_seconds=0,
            ),
        ),
    )
    box_path = workdir / "outbox.db"
    for p in workdir.glob("outbox.db*"):
        p.unlink()
    outbox = Outbox(box_path)
    pipeline = Pipeline.for_source(settings, outbox, hmac_key=b"bench" * 8)
    started, cpu = time.perf_counter(), time.process_time()
    reports = pipeline.poll()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    outbox.close()
    r = reports[0]
    return {
        "rows": r.rows,
        "records": r.added,
        "excluded": r.excluded,
        "quarantined": r.quarantined,
        "seconds": seconds,
        "cpu": cpu,
        "rss_mb": peak_rss_mb(),
    }


def child(kind: str, db: Path, workdir: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--db", str(db), "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--workdir", default="/tmp/esup-bench")
    ap.add_argument("--child", choices=["raw", "agent"])
    ap.add_argument("--db")
    args = ap.parse_args()
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if args.child:
        fn = raw if args.child == "raw" else agent
        res = fn(Path(args.db)) if args.child == "raw" else fn(Path(args.db), workdir)  # type: ignore[call-arg]
        print(json.dumps(res))
        return

    from bench.legacy_data import build

    db = workdir / f"legacy-{args.rows}.db"
    if not db.exists():
        print(f"building legacy database with {args.rows:,} applications at {db} ...")
        t = time.perf_counter()
        build(db, args.rows)
        print(f"  built in {time.perf_counter() - t:.0f} s")
    r = child("raw", db, workdir)
    a = child("agent", db, workdir)
    raw_rate = r["rows"] / r["seconds"]
    agent_rate = a["rows"] / a["seconds"]
    print(
        f"raw pyodbc fetchmany   {r['rows']:>10,.0f} rows  {r['seconds']:7.1f} s  "
        f"{raw_rate:>9,.0f} rows/s  peak RSS {r['rss_mb']:.0f} MB"
    )
    print(
        f"agent capture (SL)     {a['rows']:>10,.0f} rows  {a['seconds']:7.1f} s  "
        f"{agent_rate:>9,.0f} rows/s  peak RSS {a['rss_mb']:.0f} MB"
    )
    print(
        f"  into the outbox: {a['records']:,.0f} records, {a['excluded']:,.0f} excluded "
        f"(secret-level), {a['quarantined']:,.0f} quarantined"
    )
    # The cores are shared: CPU seconds say what the work costs whatever else runs.
    print(
        f"CPU time: raw {r['cpu']:.1f} s ({r['rows'] / r['cpu']:,.0f} rows/s), agent "
        f"{a['cpu']:.1f} s ({a['rows'] / a['cpu']:,.0f} rows/s), agent / raw on CPU = "
        f"{(a['rows'] / a['cpu']) / (r['rows'] / r['cpu']):.2f}"
    )
    print(
        f"agent / raw = {agent_rate / raw_rate:.2f} (target >= 0.33); "
        f"agent peak RSS {a['rss_mb']:.0f} MB (target < 150 MB)"
    )


if __name__ == "__main__":
    main()
