"""The sweep worker inside a collector process: APScheduler jobs for dirty cases (every few
seconds) and full sweeps (every few minutes). Several processes may run it: the sweep lock
lets one sweep run at a time and the others skip.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from collector.engine.rules_file import load_rules
from collector.engine.sweep import SweepResult, run_sweep
from collector.errors import CollectorError

log = logging.getLogger("esup.collector.engine")


@dataclass
class SweepWorker:
    engine: Engine
    rules_file: Path | None
    dirty_seconds: int
    full_minutes: int
    workers: int | None = None
    scheduler: BackgroundScheduler | None = None

    def run(self, mode: str) -> SweepResult | None:
        """One job run; errors are logged, never raised into the scheduler thread."""
        try:
            # Read the rules file each time: an edited file is a rule change, noticed here.
            result = run_sweep(
                self.engine, mode=mode, rules=load_rules(self.rules_file), workers=self.workers
            )
        except CollectorError as exc:
            log.error("engine %s sweep failed: %s", mode, exc)
            return None
        except Exception:  # keep the worker alive; the next run retries
            log.exception("engine %s sweep failed unexpectedly", mode)
            return None
        if result.ran and (result.cases or sum(result.new.values())):
            log.info("engine %s", result.summary())
        return result

    def start(self) -> None:
        scheduler = BackgroundScheduler(timezone=UTC)
        scheduler.add_job(
            self.run,
            "interval",
            args=["dirty"],
            seconds=self.dirty_seconds,
            id="engine-dirty",
            max_instances=1,
            coalesce=True,
        )
        scheduler.add_job(
            self.run,
            "interval",
            args=["full"],
            minutes=self.full_minutes,
            id="engine-full",
            max_instances=1,
            coalesce=True,
        )
        scheduler.start()
        self.scheduler = scheduler

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=True)
            self.scheduler = None


def worker_for(engine: Engine, settings: object) -> SweepWorker | None:
    """A worker when the settings enable it (engine_dirty_seconds > 0), else None."""
    seconds = int(getattr(settings, "engine_dirty_seconds", 0) or 0)
    if seconds <= 0:
        return None
    return SweepWorker(
        engine=engine,
        rules_file=getattr(settings, "engine_rules_file", None),
        dirty_seconds=seconds,
        full_minutes=max(1, int(getattr(settings, "engine_full_sweep_minutes", 10))),
        workers=int(getattr(settings, "engine_sweep_workers", 0) or 0) or None,
    )
