"""Server-side ingest of signed batches through the in-process collector app, records/s.

    python bench/bench_ingest.py [--batches 20] [--size 1000] [--store sqlite|postgresql|both]
                                 [--profile]

Batches of SL records (the sample case replayed under fresh case numbers, every tenth batch
resending half of the previous one so duplicates are on the path too) are signed like an
agent signs them and posted to the app through Starlette's TestClient: envelope checks,
validation, storage and the signed receipt, without a socket. The same run prints the raw
executemany rate of the same number of small rows into the same kind of store, and the
process CPU time, since the machine is shared. ``--profile`` prints the top of a cProfile of
the handler instead, ``--steps`` the milliseconds per batch of each ingest stage.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import functools
import json
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from fastapi.testclient import TestClient  # noqa: E402

from bench.bench_end_to_end import pg_database, raw_insert  # noqa: E402
from collector.api import batches as batches_api  # noqa: E402
from collector.app import create_app  # noqa: E402
from collector.settings import CollectorSettings  # noqa: E402
from collector.store import ingest  # noqa: E402
from collector.store.engine import make_engine  # noqa: E402
from collector.store.migrate import upgrade  # noqa: E402
from tests.collector.conftest import AgentSide, new_token  # noqa: E402

DEPARTMENT = "D1"


def sl(serial: int, sjbbh: int = 1) -> dict[str, Any]:
    """A valid 受理 (SL) record, shaped like the agent's demo mapping produces."""
    return {
        "spec": "1.0",
        "type": "SL",
        "SBLSH": f"430700SCJ2026{serial:09d}",
        "SXBM": "11430700MB1534211G300011111700001",
        "SXMC": "食品经营许可",
        "XZQHDM": "430700",
        "BMBM": DEPARTMENT,
        "BMMC": "常德市市场监督管理局",
        "SJBBH": sjbbh,
        "SLZTDM": "1",
        "SLSJ": "2026-09-14T10:05:31+08:00",
        "SLHZH": f"SL{serial:013d}",
        "BLRXM": "王芳",
        "BLRGH": "SCJ0231",
        "GDBLSX": 10,
        "GDBLSXDW": "G",
        "GDSF": 0,
    }


def envelopes(agent: AgentSide, batches: int, size: int) -> list[dict[str, Any]]:
    made: list[dict[str, Any]] = []
    seq = 0
    for number in range(batches):
        records = []
        for _ in range(size):
            seq += 1
            records.append((seq, sl(seq)))
        if number % 10 == 9:  # a resend of half the previous batch: duplicates
            records = records[: size // 2] + [
                (s, sl(s)) for s in range(seq - size - size // 2, seq - size)
            ]
        made.append(agent.batch(records))
    return made


#: What --steps times, ms per batch: the handler's own stages (names in collector/).
STEPS = {
    batches_api: ["ingest_batch", "_records_of", "verify_envelope"],
    ingest: ["_problems_of"],
    ingest.RecordWriter: [
        "store_many",
        "_find_earlier_deliveries",
        "_insert_versions",
        "_held_versions",
        "_move_current",
        "_keep_invalid",
        "_keep_deliveries",
    ],
}


def timed_steps() -> collections.defaultdict[str, float]:
    """Wrap the stages in STEPS with timers (this process only: the benchmark's own copy)."""
    spent: collections.defaultdict[str, float] = collections.defaultdict(float)

    def timer(name: str, fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - started

        return wrapper

    for owner, names in STEPS.items():
        for name in names:
            setattr(owner, name, timer(name, getattr(owner, name)))
    return spent


def run(kind: str, batches: int, size: int, profile: bool, steps: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = f"sqlite:///{tmp}/collector.db" if kind == "sqlite" else pg_database()
        settings = CollectorSettings(data_dir=Path(tmp) / "data", store_url=store)
        engine = make_engine(settings.resolved_store_url)
        upgrade(engine)
        with TestClient(create_app(settings)) as client:
            agent = AgentSide(client)
            assert agent.enrol(new_token(engine, DEPARTMENT)).status_code == 200
            prepared = envelopes(agent, batches, size)
            records = sum(len(e["records"]) for e in prepared)
            profiler = cProfile.Profile() if profile else None
            spent = timed_steps() if steps else None
            cpu, started = time.process_time(), time.perf_counter()
            if profiler or spent is not None:
                # TestClient runs the app in another thread: time the handler's work itself.
                ctx = client.app.state.ctx  # type: ignore[attr-defined]
                texts = [json.dumps(envelope) for envelope in prepared]
                if profiler:
                    profiler.enable()
                for text in texts:
                    batches_api.ingest_batch(ctx, json.loads(text), "127.0.0.1", sender=None)
                if profiler:
                    profiler.disable()
            else:
                for envelope in prepared:
                    agent.verified_receipt(agent.post("/api/v1/batches", envelope))
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        engine.dispose()
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
            return
        if spent is not None:
            print(f"ingest ({kind}) ms per batch of {size}, by stage (nested stages overlap):")
            for name, total in sorted(spent.items(), key=lambda item: -item[1]):
                print(f"  {name:28} {total / batches * 1000:7.1f}")
            return
        raw = raw_insert(store, records)
        print(
            f"ingest ({kind:10}) {records:>7,} records in {batches} batches of {size}: "
            f"{seconds:6.2f} s  {records / seconds:>8,.0f} records/s wall  "
            f"{records / cpu:>8,.0f} records/s CPU  {seconds / batches * 1000:6.1f} ms/batch   "
            f"raw insert {raw:>9,.0f} rows/s"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--size", type=int, default=1000)
    ap.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--profile", action="store_true", help="cProfile of the handler")
    ap.add_argument("--steps", action="store_true", help="ms per batch by ingest stage")
    args = ap.parse_args()
    for kind in ("sqlite", "postgresql") if args.store == "both" else (args.store,):
        run(kind, args.batches, args.size, args.profile, args.steps)


if __name__ == "__main__":
    main()
