"""Delivery of outbox records to the collector in signed batches.

Each attempt signs a fresh manifest (new nonce and created_at; the record hashes are the
ones from capture time). A record is marked delivered only when a receipt that verifies
with the pinned collector key, and names the manifest we sent, covers its seq. Failures
are retried forever with :mod:`agent.backoff`; the pusher never sleeps, it tells the
caller when to try again (``next_attempt_at``).

Every manifest says how far behind the agent is (``backlog``: records still pending after
this batch, and whether a source is being read), so the collector waits before judging a
department whose data is still coming.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from exchange_spec import protocol
from exchange_spec.errors import ProtocolError

from .backlog import CaptureState
from .backoff import Backoff
from .errors import PushError, PushRefused
from .outbox import Outbox, PendingRecord
from .signing import AgentKeys, Enrolment
from .transport import EnvelopeRefused, post_json

BATCHES_PATH = "/api/v1/batches"
#: 4xx meaning this agent may not send at all (revoked, unknown, key no longer matches):
#: stop and keep everything until a new enrolment.
REVOKED_CODES = {"agent_revoked", "unknown_agent", "not_enrolled", "revoked", "bad_signature"}
REVOKED_STATUS = {401, 403}
#: Words in a refusal code meaning "your created_at is too far from my clock".
#: How often a stopped pusher looks again (a new enrolment clears the stop).
STOPPED_RECHECK_SECONDS = 60.0
STALE_WORDS = ("stale", "skew", "clock", "expired", "too_old", "future")


def utc_now() -> datetime:
    return datetime.now(UTC)


def is_stale(exc: PushRefused) -> bool:
    """The collector refused our created_at as too far from its clock."""
    return any(word in exc.code for word in STALE_WORDS)


class UntrustedReceipt(PushError):
    """A receipt that does not verify or does not answer our manifest; nothing is marked."""


@dataclass
class PushOutcome:
    batches: int = 0
    delivered: int = 0
    rejected: int = 0
    error: str | None = None
    wait_seconds: float | None = None
    stopped: bool = False
    attempt_nonces: list[str] = field(default_factory=list)


class Pusher:
    """Sends pending outbox records; keeps its own retry state between calls."""

    def __init__(
        self,
        outbox: Outbox,
        keys: AgentKeys,
        enrolment: Enrolment,
        client: httpx.Client,
        *,
        batch_max_records: int = 500,
        batch_max_bytes: int = 1024**2,
        backoff: Backoff | None = None,
        interval_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utc_now,
        stop: threading.Event | None = None,
        capture: CaptureState | None = None,
    ) -> None:
        self.stop = stop or threading.Event()
        self.capture = capture or CaptureState()
        self.outbox = outbox
        self.keys = keys
        self.enrolment = enrolment
        self.client = client
        self.batch_max_records = batch_max_records
        self.batch_max_bytes = batch_max_bytes
        self.backoff = backoff or Backoff()
        self.interval_seconds = interval_seconds
        self.clock = clock
        self.wall = wall
        self.next_attempt_at = 0.0
        self.last_waits: list[float] = []
        # Whether the last report the collector acknowledged said "behind": it then waits
        # for a report saying otherwise, which the runner sends when no batch will.
        self.told_behind = False

    # -- one batch --------------------------------------------------------------------------
    def _created_at(self) -> str:
        # Sign with the collector's idea of now when we know our clock is off.
        offset = self.outbox.get_meta("clock_offset_seconds") or 0.0
        return (self.wall() + timedelta(seconds=float(offset))).isoformat(timespec="milliseconds")

    def backlog(self, batch: list[PendingRecord]) -> protocol.Backlog:
        """What is left to send after ``batch``."""
        # Read before the pending count: a poll that ends in between has committed its
        # records already, so they are counted; read after, a poll that started and ended
        # in between would go unnoticed.
        capturing = self.capture.capturing
        pending = self.outbox.pending_count()
        return protocol.Backlog(max(0, pending - len(batch)), capturing)

    def envelope(self, batch: list[PendingRecord]) -> dict[str, Any]:
        """A freshly signed batch envelope (new nonce, created_at and backlog every call)."""
        backlog = self.backlog(batch)  # before created_at, as a heartbeat's body is
        manifest = protocol.batch_manifest(
            self.enrolment.agent_id,
            [(r.seq, r.content_hash) for r in batch],
            created_at=self._created_at(),
            backlog=backlog,
        )
        return {
            "manifest": manifest,
            "signature": self.keys.sign(manifest),
            "records": [{"seq": r.seq, "record": json.loads(r.body)} for r in batch],
        }

    def check_receipt(
        self, answer: Any, manifest: dict[str, Any]
    ) -> tuple[list[int], list[tuple[int, str, str]]]:
        """Verify a receipt; returns (delivered seqs, rejected (seq, code, reason))."""
        if not isinstance(answer, dict) or not isinstance(answer.get("receipt"), dict):
            raise UntrustedReceipt("the collector's answer holds no receipt")
        receipt = answer["receipt"]
        try:
            protocol.verify(
                self.enrolment.collector_public_key, receipt, str(answer.get("signature", ""))
            )
        except ProtocolError as exc:
            raise UntrustedReceipt(
                f"the receipt is not signed by the pinned collector key "
                f"{self.enrolment.collector_key_id} ({exc}); nothing is marked delivered. "
                "If the collector's key was changed, enrol again / 回执签名校验失败"
            ) from exc
        if receipt.get("kind") != "receipt" or receipt.get("agent_id") != manifest["agent_id"]:
            raise UntrustedReceipt("the receipt is not a receipt for this agent")
        if receipt.get("manifest_hash") != protocol.frame_hash(manifest):
            raise UntrustedReceipt("the receipt answers another manifest than the one sent")
        sent = {int(s) for s, _ in manifest["items"]}
        try:
            covered = protocol.covered(receipt.get("covered") or []) & sent
            rejected = []
            for item in receipt.get("rejected") or []:
                seq = int(item["seq"])
                if seq in covered:
                    reason = " / ".join(
                        str(item[k]) for k in ("message_en", "message_zh") if item.get(k)
                    )
                    if item.get("path"):
                        reason = f"{item['path']}: {reason}"
                    rejected.append((seq, str(item.get("code", "")), reason))
        except (TypeError, ValueError, KeyError) as exc:
            raise UntrustedReceipt(f"the receipt's ranges are malformed ({exc})") from exc
        rejected_seqs = {s for s, _, _ in rejected}
        return sorted(covered - rejected_seqs), rejected

    def send(self, batch: list[PendingRecord], outcome: PushOutcome) -> None:
        envelope = self.envelope(batch)
        outcome.attempt_nonces.append(envelope["manifest"]["nonce"])
        sent_at = self.wall()
        try:
            _, answer = post_json(
                self.client,
                BATCHES_PATH,
                envelope,
                compress=True,
                signing_key=self.keys.private_key,
            )
        except EnvelopeRefused as exc:
            if is_stale(exc):
                self._learn_offset(exc, sent_at)
            raise
        delivered, rejected = self.check_receipt(answer, envelope["manifest"])
        backlog = protocol.read_backlog(envelope["manifest"])
        self.told_behind = backlog is not None and backlog.behind
        if not delivered and not rejected:
            # Sending the same batch again at once would loop; wait like after a failure.
            raise UntrustedReceipt("the receipt covers none of the records sent; will retry")
        outcome.delivered += self.outbox.mark_delivered(delivered)
        outcome.rejected += self.outbox.mark_rejected(rejected)
        outcome.batches += 1

    def _learn_offset(self, exc: EnvelopeRefused, sent_at: datetime) -> None:
        if exc.collector_time is None:
            return
        received = self.wall()
        middle = sent_at + (received - sent_at) / 2
        offset = (exc.collector_time - middle).total_seconds()
        self.outbox.set_meta("clock_offset_seconds", round(offset, 3))

    # -- loop -------------------------------------------------------------------------------
    def push(self, max_batches: int | None = None) -> PushOutcome:
        """Send pending batches until none is left, one fails, or ``max_batches`` went."""
        outcome = PushOutcome()
        if self.outbox.get_meta("push_stopped"):
            outcome.stopped = True
            outcome.error = str(self.outbox.get_meta("push_stopped"))
            # Still loud (logged at each look), but not every tick.
            self.next_attempt_at = self.clock() + STOPPED_RECHECK_SECONDS
            return outcome
        stale_retried = False
        while (max_batches is None or outcome.batches < max_batches) and not self.stop.is_set():
            batch = self.outbox.pending_batch(self.batch_max_records, self.batch_max_bytes)
            if not batch:
                break
            try:
                self.send(batch, outcome)
            except PushRefused as exc:
                if is_stale(exc):
                    if not stale_retried:
                        # Re-sign at once with the clock offset just learnt; once only.
                        stale_retried = True
                        continue
                elif exc.status in REVOKED_STATUS or exc.code in REVOKED_CODES:
                    self._stop(exc, outcome)
                    return outcome
                elif (exc.status == 413 or exc.code == "too_large") and len(batch) > 1:
                    # The collector takes less than we send: halve the batch and go on.
                    self.batch_max_records = max(1, len(batch) // 2)
                    continue
                self._failed(exc, outcome)
                return outcome
            except PushError as exc:
                self._failed(exc, outcome)
                return outcome
        self.backoff.succeeded()
        self.next_attempt_at = self.clock() + self.interval_seconds
        return outcome

    def _failed(self, exc: PushError, outcome: PushOutcome) -> None:
        wait = self.backoff.failed()
        self.last_waits.append(wait)
        del self.last_waits[:-20]
        self.next_attempt_at = self.clock() + wait
        outcome.error = str(exc)
        outcome.wait_seconds = wait
        self.outbox.add_counter("push_failures")
        self.outbox.record_error("push", f"{exc} (next attempt in {wait:.1f} s)")

    def _stop(self, exc: PushRefused, outcome: PushOutcome) -> None:
        message = (
            f"the collector refuses this agent ({exc.status} {exc.code}): pushing stopped; "
            "all records are kept. Fix: ask the collector's operator for a new token, run "
            "`esup-agent enrol`, then restart the agent / 监察中心拒绝本代理，已停止上报，"
            "数据全部保留，请联系监察中心重新注册并重启代理"
        )
        self.outbox.set_meta("push_stopped", message)
        self.outbox.record_error("push", message)
        self.next_attempt_at = self.clock() + STOPPED_RECHECK_SECONDS
        outcome.stopped = True
        outcome.error = message

    def tick(self) -> PushOutcome | None:
        """Push if it is time (scheduler calls this often); None when waiting."""
        if self.clock() < self.next_attempt_at:
            return None
        return self.push()
