"""A sweep of many pages evaluates in worker processes and gives exactly what evaluating in the
collector's own process gives; a worker killed mid-sweep loses nothing and doubles nothing.
SQLite and PostgreSQL, on cases across the 2026 National Day holiday."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import Engine, func, select

import collector.engine.sweep as sweep_module
from collector.engine.errors import SweepWorkerDied
from collector.engine.events import VerdictRow
from collector.engine.sweep import run_sweep
from collector.store.engine import make_engine
from collector.store.migrate import upgrade
from collector.store.tables import case_clocks, verdicts
from tests.collector.engine.records import at, bj, bzgz, spcl, store, sx, tbcxjg, tbcxsq

AT = at("2026-10-12 10:00")


def _cases(count: int) -> list[dict[str, Any]]:
    """Cases of varied shapes accepted from 2026-09-14 to 10-09: running, warned, yellow,
    red, completed on time and late, suspended by a correction or a hearing, orphans."""
    from tests.collector.engine.records import sl

    records: list[dict[str, Any]] = []
    days = ["09-14", "09-18", "09-21", "09-24", "09-28", "09-29", "09-30", "10-08", "10-09"]
    for n in range(count):
        sblsh = f"W-{n:04d}"
        accepted = f"2026-{days[n % len(days)]}T10:00:00+08:00"
        shape = n % 6
        if shape == 5:
            records.append(bj(sblsh, "2026-10-09T16:00:00+08:00"))  # orphan: BJ without SL
            continue
        records.append(sl(sblsh, accepted, gdblsx=3 + n % 4))
        if shape == 1:
            records.append(bj(sblsh, "2026-10-09T16:00:00+08:00"))
        elif shape == 2:
            records.append(bzgz(sblsh, 1, "2026-10-08T09:00:00+08:00"))
        elif shape == 3:
            records.append(tbcxsq(sblsh, 1, "B", "2026-09-29T09:00:00+08:00", 5))
            records.append(tbcxjg(sblsh, 1, "2026-10-09T09:00:00+08:00"))
        elif shape == 4:
            records.append(spcl(sblsh, 1, "1", "2026-09-30T09:00:00+08:00"))
    return records


def _outcome(engine: Engine) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    with engine.connect() as conn:
        found = {
            (r.sblsh, r.kind, r.code, r.rule, r.level)
            for r in conn.execute(
                select(
                    verdicts.c.sblsh,
                    verdicts.c.kind,
                    verdicts.c.code,
                    verdicts.c.rule,
                    verdicts.c.level,
                )
            )
        }
        clocks = {
            (r.sblsh, r.state, r.promised_deadline, r.legal_deadline, r.workdays_used, r.recheck_on)
            for r in conn.execute(select(case_clocks))
        }
    return found, clocks


def _stored_twice(store_engine: Engine, tmp_path: Path, count: int) -> Engine:
    """Store ``count`` cases in the store under test and in a reference SQLite store."""
    records = _cases(count)
    store(store_engine, records)
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    upgrade(reference)
    store(reference, [sx(), *records])
    return reference


class _CountingPool(sweep_module.PageWorkers):
    started = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _CountingPool.started += 1
        super().__init__(*args, **kwargs)


def test_pages_evaluated_in_workers_match_evaluation_in_process(
    store_engine: Engine,
    tmp_path: Path,
    heard: list[VerdictRow],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reference = _stored_twice(store_engine, tmp_path, 60)
    monkeypatch.setattr(sweep_module, "PageWorkers", _CountingPool)
    _CountingPool.started = 0
    pooled = run_sweep(store_engine, at=AT, page=7, workers=2)
    assert _CountingPool.started == 1  # the pages after the first went to worker processes
    # Verdicts created from worker results still reach the listeners (supervision matters,
    # notifications) in the collector's process, in the transaction that stores them.
    assert len(heard) == sum(pooled.new.values())
    serial = run_sweep(reference, at=AT, page=1000, workers=1)
    assert _CountingPool.started == 1

    assert pooled.cases == serial.cases == 60
    assert pooled.new == serial.new
    assert pooled.new["red"] and pooled.new["yellow"] and pooled.new["anomaly"]
    assert _outcome(store_engine) == _outcome(reference)
    reference.dispose()


def test_a_worker_killed_mid_sweep_loses_nothing_and_doubles_nothing(
    store_engine: Engine, tmp_path: Path
) -> None:
    reference = _stored_twice(store_engine, tmp_path, 240)
    run_sweep(reference, at=AT, workers=1)

    me = psutil.Process(os.getpid())
    killed: list[int] = []

    def kill_workers_once(written: int) -> None:
        # Called after each page is written: part way through, SIGKILL every page worker
        # (one of them holds a page not written yet).
        if killed or written < 40:
            return
        for child in me.children(recursive=True):
            if "spawn_main" in " ".join(child.cmdline()):
                os.kill(child.pid, signal.SIGKILL)
                killed.append(child.pid)

    with pytest.raises(SweepWorkerDied, match="run the sweep again"):
        run_sweep(store_engine, at=AT, page=4, workers=2, progress=kill_workers_once)
    assert len(killed) == 2
    with store_engine.connect() as conn:
        written = conn.execute(select(func.count()).select_from(case_clocks)).scalar_one()
    assert written < 240  # the sweep really stopped part way

    again = run_sweep(store_engine, at=AT, workers=2)
    assert again.ran
    assert _outcome(store_engine) == _outcome(reference)
    with store_engine.connect() as conn:
        keys = conn.execute(select(verdicts.c.dedup_key)).scalars().all()
    assert len(keys) == len(set(keys))
    reference.dispose()
