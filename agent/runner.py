"""``esup-agent run``: poll jobs, the push job and the heartbeat in one process.

APScheduler runs one poll job per source (never two at once for the same source), a push
ticker (the pusher decides when it is time, honouring its backoff) and the heartbeat.
SIGTERM/SIGINT stop the scheduler after the running jobs finish their current chunk
transaction; connections are closed and the process exits 0.

The pipelines, the pusher and the heartbeat share one :class:`CaptureState`, so batches and
heartbeats tell the collector whether more is coming. When the last word the collector had
said "behind" and the agent has caught up, a push tick says so at once with a heartbeat
(there may be no batch left to carry it).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

import httpx
from apscheduler.schedulers.background import BackgroundScheduler

from .backlog import CaptureState
from .backoff import Backoff
from .config import AgentConfig
from .errors import AgentError, PushError
from .heartbeat import heartbeat_body, send_heartbeat
from .metrics import MetricsServer
from .pipeline import Pipeline, TableReport
from .push import Pusher, PushOutcome
from .reconcile import run_logged
from .signing import AgentKeys, Enrolment
from .sources import OdbcSource, SourceSettings
from .state import OUTBOX_FILE, Limits, Outbox
from .transport import build_client

log = logging.getLogger("esup.agent")
PUSH_TICK_SECONDS = 1.0


def open_outbox(config: AgentConfig, *, readonly: bool = False) -> Outbox:
    limits = Limits(
        max_records=config.outbox.max_records,
        max_bytes=config.outbox.max_bytes,
        disk_reserve_bytes=config.outbox.disk_reserve_mb * 1024**2,
    )
    return Outbox(config.agent.state_dir / OUTBOX_FILE, limits, readonly=readonly)


@dataclass
class Agent:
    """The running parts of one agent, built from its config."""

    config: AgentConfig
    outbox: Outbox
    keys: AgentKeys
    enrolment: Enrolment
    client: httpx.Client
    pipelines: list[Pipeline]
    pusher: Pusher
    stop: threading.Event = field(default_factory=threading.Event)
    capture: CaptureState = field(default_factory=CaptureState)
    # A failed catch-up heartbeat waits like a failed push: a collector outage must not
    # draw one request (and one recorded error) per push tick.
    catch_up_backoff: Backoff = field(default_factory=Backoff)
    catch_up_retry_at: float = 0.0
    # Why the last poll of each source failed (absent when it succeeded): run --once fails.
    poll_errors: dict[str, str] = field(default_factory=dict)
    # The pause last logged: a paused poll logs one line when the pause starts or changes,
    # not one per poll.
    paused_logged: str | None = None

    @classmethod
    def build(
        cls,
        config: AgentConfig,
        *,
        transport: httpx.BaseTransport | None = None,
        source_factory: Callable[[SourceSettings], OdbcSource] = OdbcSource,
    ) -> Agent:
        keys = AgentKeys(config.agent.state_dir)
        enrolment = keys.require_enrolment()
        stop = threading.Event()
        capture = CaptureState()
        outbox = open_outbox(config)
        try:
            hmac_key = keys.hmac_key()
            pipelines = [
                Pipeline.for_source(
                    s,
                    outbox,
                    hmac_key,
                    source_factory=source_factory,
                    stop=stop,
                    capture=capture,
                )
                for s in config.sources
            ]
            client = build_client(config.collector, transport)
        except AgentError:
            outbox.close()
            raise
        pusher = Pusher(
            outbox,
            keys,
            enrolment,
            client,
            batch_max_records=config.outbox.batch_max_records,
            batch_max_bytes=config.outbox.batch_max_bytes,
            backoff=Backoff(config.push.backoff_first_seconds, config.push.backoff_cap_seconds),
            interval_seconds=config.push.interval_seconds,
            stop=stop,
            capture=capture,
        )
        return cls(
            config,
            outbox,
            keys,
            enrolment,
            client,
            pipelines,
            pusher,
            stop,
            capture,
            Backoff(config.push.backoff_first_seconds, config.push.backoff_cap_seconds),
        )

    def close(self) -> None:
        self.client.close()
        self.outbox.close()

    # -- jobs (each catches the agent's own errors: a failing job must not kill the others)
    def poll(self, pipeline: Pipeline) -> list[TableReport]:
        name = pipeline.settings.name
        try:
            reports = pipeline.poll()
        except AgentError as exc:
            self.outbox.record_error(f"poll {name}", str(exc))
            self.poll_errors[name] = str(exc)
            log.error("poll of source %s failed: %s", name, exc)
            return []
        self.poll_errors.pop(name, None)
        paused = next((r.paused for r in reports if r.paused), None)
        if paused != self.paused_logged:
            if paused:
                log.warning("polling paused: %s", paused)
            else:
                log.info("polling resumed: there is room in the outbox again / 已恢复采集")
            self.paused_logged = paused
        log_poll(name, reports)
        return reports

    def push(self) -> PushOutcome | None:
        try:
            outcome = self.pusher.tick()
        except AgentError as exc:
            self.outbox.record_error("push", str(exc))
            log.error("push failed: %s", exc)
            return None
        if outcome is not None and outcome.error:
            log.error("push: %s", outcome.error)
        elif outcome is not None and outcome.batches:
            log.info(
                "push: %d batch(es), %d delivered, %d rejected / "
                "上报 %d 批，送达 %d 条，拒收 %d 条",
                outcome.batches,
                outcome.delivered,
                outcome.rejected,
                outcome.batches,
                outcome.delivered,
                outcome.rejected,
            )
        try:
            self._announce_caught_up()
        except AgentError as exc:
            self.outbox.record_error("heartbeat", str(exc))
            log.error("heartbeat after catching up failed: %s", exc)
        return outcome

    def _announce_caught_up(self) -> None:
        """The collector waits while our last word said "behind"; once nothing is pending
        and no source is being read, say so now: no batch may follow to say it."""
        if not self.outbox.link.told_behind or self.capture.capturing:
            return
        if self.pusher.clock() < self.catch_up_retry_at:
            return
        if self.outbox.pending_count() > 0:
            return  # the next batch says it
        if not self._send_heartbeat(catching_up=True):  # tried again after a backoff wait
            self.catch_up_retry_at = self.pusher.clock() + self.catch_up_backoff.failed()
            return
        self.catch_up_backoff.succeeded()

    def _send_heartbeat(self, *, catching_up: bool = False) -> bool:
        """Send a heartbeat; False when it failed (recorded). The link learns what the
        collector was told (a routine one saying "behind" makes the push ticks announce the
        catch-up, as after a batch that said so)."""
        body = heartbeat_body(self.outbox, self.config.agent.name, self.capture)
        try:
            send_heartbeat(
                self.outbox,
                self.keys,
                self.enrolment,
                self.client,
                body=body,
                catching_up=catching_up,
            )
        except PushError as exc:
            self.outbox.record_error("heartbeat", str(exc))
            log.warning("heartbeat failed: %s", exc)
            return False
        return True

    def heartbeat(self) -> bool:
        """Send a heartbeat; True when the collector acknowledged it."""
        return self._send_heartbeat()

    def prune(self) -> None:
        self.outbox.prune(timedelta(days=self.config.outbox.retention_days))

    def run_once(self) -> dict[str, Any]:
        """One poll of every source, then push until empty or a failure (for cron/tests)."""
        reports = [r for p in self.pipelines for r in self.poll(p)]
        outcome = self.pusher.push()
        self.heartbeat()
        return {"polls": reports, "push": outcome, "poll_errors": sorted(self.poll_errors.items())}

    def run_forever(self, *, install_signals: bool = True) -> None:
        scheduler = BackgroundScheduler(
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 30}
        )
        for p in self.pipelines:
            scheduler.add_job(
                self.poll,
                "interval",
                args=[p],
                seconds=p.settings.poll_seconds,
                id=f"poll:{p.settings.name}",
                next_run_time=_now(),
            )
        scheduler.add_job(self.push, "interval", seconds=PUSH_TICK_SECONDS, id="push")
        scheduler.add_job(
            self.heartbeat,
            "interval",
            seconds=self.config.heartbeat.interval_seconds,
            id="heartbeat",
            next_run_time=_now(),
        )
        scheduler.add_job(self.prune, "interval", hours=6, id="prune")
        if self.config.reconcile.enabled:
            scheduler.add_job(
                run_logged,
                "interval",
                args=[self.pipelines, self.outbox, self.config.agent.department],
                kwargs={"settings": self.config.reconcile},
                minutes=self.config.reconcile.interval_minutes,
                id="reconcile",
                next_run_time=_now(),
            )
        metrics = None
        if self.config.metrics.enabled:
            metrics = MetricsServer(self.outbox, self.config.metrics.host, self.config.metrics.port)
            metrics.start()
        if install_signals:

            def on_signal(signum: int, frame: FrameType | None) -> None:
                log.info("signal %d: stopping after the current transaction", signum)
                self.stop.set()

            signal.signal(signal.SIGTERM, on_signal)
            signal.signal(signal.SIGINT, on_signal)
        scheduler.start()
        log.info("agent running: %d source(s)", len(self.pipelines))
        try:
            self.stop.wait()
        finally:
            scheduler.shutdown(wait=True)  # running jobs end at their next chunk boundary
            if metrics is not None:
                metrics.stop()
            self.close()
        log.info("agent stopped")


def log_poll(source: str, reports: list[TableReport]) -> None:
    """One line per poll that captured new records. Polls run every few seconds and the
    re-read window reads the last rows again each time, so a poll with nothing new says
    nothing (the quarantine and the counts are in `esup-agent status`)."""
    added = sum(r.added for r in reports)
    if not added:
        return
    log.info(
        "poll %s: %d new record(s) (%d rows read, %d already captured, %d quarantined, "
        "%d excluded) / 采集到 %d 条新记录",
        source,
        added,
        sum(r.rows for r in reports),
        sum(r.duplicates for r in reports),
        sum(r.quarantined for r in reports),
        sum(r.excluded for r in reports),
        added,
    )


def _now() -> datetime:
    return datetime.now().astimezone()
