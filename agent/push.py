"""Delivery of outbox records to the collector in signed batches.

Each attempt signs a fresh manifest (new nonce and created_at; the record hashes are the
ones from capture time). A record is marked delivered only when a receipt that verifies
with the pinned collector key, and names the manifest we sent, covers its seq. Failures
are retried forever with :mod:`agent.backoff`; the pusher never sleeps, it tells the
caller when to try again (``next_attempt_at``).

Every manifest says how far behind the agent is (``backlog``: records still pending after
this batch, and whether a source is being read), so the collector waits before judging a
department whose data is still coming.

What the collector says back goes to the outbox's :class:`~agent.state.CollectorLink` (clock
offset, what it was told, its last seq). Only the collector's own signed refusal
``agent_revoked`` stops pushing; any other refusal, a proxy's HTML page included, is retried
with backoff and shown in ``status``. A record the collector refuses as ``seq_reused`` (it
holds that seq with other content: a state directory restored from a backup) is sent again
under a fresh seq above the collector's last; other rejected records are kept with their
reason, counted and logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from exchange_spec import protocol
from exchange_spec.errors import ProtocolError

from .backlog import CaptureState
from .backoff import Backoff
from .errors import OutboxError, PushError, PushRefused
from .signing import AgentKeys, Enrolment
from .state import Outbox, PendingRecord, Settled
from .transport import EnvelopeRefused, post_json

log = logging.getLogger("esup.agent")
BATCHES_PATH = "/api/v1/batches"
#: The one refusal that stops pushing, when the collector signed it for our manifest.
REVOKED_CODE = "agent_revoked"
#: How often a stopped pusher looks again (a new enrolment clears the stop).
STOPPED_RECHECK_SECONDS = 60.0
#: Words in a refusal code meaning "your created_at is too far from my clock".
STALE_WORDS = ("stale", "skew", "clock", "expired", "too_old", "future")
#: The collector holds this seq with other content: send the record again under a new seq.
SEQ_REUSED = "seq_reused"
#: The collector holds this version with other content: the next version, where we number.
VERSION_CONFLICT = "version_conflict"


def utc_now() -> datetime:
    return datetime.now(UTC)


def is_stale(exc: PushRefused) -> bool:
    """The collector refused our created_at as too far from its clock."""
    return any(word in exc.code for word in STALE_WORDS)


class UntrustedReceipt(PushError):
    """A receipt that does not verify or does not answer our manifest; nothing is marked."""


class Revoked(PushRefused):
    """The collector's signed refusal of this agent: pushing stops until a new enrolment."""


@dataclass
class ReceiptResult:
    """What a verified receipt says about the records of one batch."""

    delivered: list[int] = field(default_factory=list)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)
    renumber: list[int] = field(default_factory=list)  # seq_reused: sent again
    conflicts: list[tuple[int, str, str]] = field(default_factory=list)  # version_conflict
    collector_last_seq: int | None = None


@dataclass
class PushOutcome:
    batches: int = 0
    delivered: int = 0
    rejected: int = 0
    renumbered: int = 0
    error: str | None = None
    wait_seconds: float | None = None
    stopped: bool = False
    attempt_nonces: list[str] = field(default_factory=list)


def _refusal_words(exc: EnvelopeRefused) -> str:
    """A refusal not signed by the collector, in words department IT can act on."""
    if not isinstance(exc.answer, dict):
        return (
            f"the collector's address answered {exc.status} with a page that is not the "
            "collector's (a proxy or firewall in between?); records are kept and sent again "
            "after a wait. Fix: check the proxy settings for the collector's address / "
            f"监察中心地址返回 {exc.status} 非监察中心页面（可能为代理或防火墙），"
            "数据已保留，将自动重试，请检查代理设置"
        )
    return (
        f"{exc}; not the collector's signed refusal of this agent, so records are kept and "
        "sent again after a wait / 上报被拒绝（非监察中心签名的吊销通知），数据已保留，将自动重试"
    )


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
        self.link = outbox.link
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

    # -- one batch --------------------------------------------------------------------------
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
            created_at=self.link.signing_time(self.wall()),
            backlog=backlog,
        )
        return {
            "manifest": manifest,
            "signature": self.keys.sign(manifest),
            "records": [{"seq": r.seq, "record": json.loads(r.body)} for r in batch],
        }

    def check_receipt(self, answer: Any, manifest: dict[str, Any]) -> ReceiptResult:
        """Verify a receipt and read what it says about each seq sent."""
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
        result = ReceiptResult()
        try:
            covered = protocol.covered(receipt.get("covered") or []) & sent
            refused: dict[int, tuple[str, str]] = {}
            for item in receipt.get("rejected") or []:
                seq = int(item["seq"])
                if seq not in covered:
                    continue
                code = str(item.get("code", ""))
                if code == SEQ_REUSED:
                    result.renumber.append(seq)
                    last = protocol.read_last_seq(item)
                    if last is not None:
                        result.collector_last_seq = max(result.collector_last_seq or 0, last)
                    continue
                reason = " / ".join(
                    str(item[k]) for k in ("message_en", "message_zh") if item.get(k)
                )
                if item.get("path"):
                    reason = f"{item['path']}: {reason}"
                refused.setdefault(seq, (code, reason))
        except (TypeError, ValueError, KeyError, ProtocolError) as exc:
            raise UntrustedReceipt(f"the receipt's ranges are malformed ({exc})") from exc
        # A seq the collector holds with other content is sent again, whatever else it says.
        again = set(result.renumber)
        for s, (c, r) in sorted(refused.items()):
            if s not in again:
                (result.conflicts if c == VERSION_CONFLICT else result.rejected).append((s, c, r))
        result.delivered = sorted(covered - again - set(refused))
        result.renumber = sorted(again)
        return result

    def send(self, batch: list[PendingRecord], outcome: PushOutcome) -> None:
        envelope = self.envelope(batch)
        manifest = envelope["manifest"]
        outcome.attempt_nonces.append(manifest["nonce"])
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
            if is_stale(exc) and exc.collector_time is not None:
                self.link.learn_clock(sent_at, self.wall(), exc.collector_time)
                raise
            code = protocol.verify_refusal(
                self.enrolment.collector_public_key, exc.answer, self.enrolment.agent_id, manifest
            )
            if code == REVOKED_CODE:
                raise Revoked(exc.status, code, str(exc)) from exc
            raise PushRefused(exc.status, exc.code, _refusal_words(exc)) from exc
        receipt = self.check_receipt(answer, manifest)
        backlog = protocol.read_backlog(manifest)
        if not (receipt.delivered or receipt.rejected or receipt.renumber or receipt.conflicts):
            # Sending the same batch again at once would loop; wait like after a failure.
            raise UntrustedReceipt("the receipt covers none of the records sent; will retry")
        settled = self.outbox.settle(
            receipt.delivered,
            receipt.rejected,
            renumber=receipt.renumber,
            conflicts=receipt.conflicts,
            collector_last_seq=receipt.collector_last_seq,
            behind=backlog is not None and backlog.behind,
        )
        self._tell(receipt, settled)
        outcome.delivered += settled.delivered
        outcome.rejected += settled.rejected
        outcome.renumbered += settled.renumbered
        outcome.batches += 1

    def _tell(self, receipt: ReceiptResult, settled: Settled) -> None:
        """A record refused or sent again is never silent: one line per batch."""
        if settled.rejected:
            seq, _, reason = (receipt.rejected or receipt.conflicts)[0]
            log.warning(
                "the collector rejected %d record(s) of this batch, e.g. seq %d: %s; kept in "
                "the outbox as rejected, `esup-agent status` lists them / 本批 %d 条记录被监察"
                "中心拒收，已保留，`esup-agent status` 可查看",
                settled.rejected,
                seq,
                reason,
                settled.rejected,
            )
        if settled.reversioned:
            log.warning(
                "the collector already holds %d of these records' versions with other content "
                "(was the state directory restored from a backup?); they are sent again as "
                "the next version / 数据版本已被占用，已改用新版本号重发",
                settled.reversioned,
            )
        renumbered = settled.renumbered
        if renumbered:
            log.warning(
                "the collector already holds %d of these sequence numbers with other records "
                "(was the state directory restored from a backup?); they are sent again under "
                "new numbers above %d / 序号已被使用（状态目录可能从备份恢复），已改用新序号重发",
                renumbered,
                self.link.collector_last_seq,
            )

    # -- loop -------------------------------------------------------------------------------
    def push(self, max_batches: int | None = None) -> PushOutcome:
        """Send pending batches until none is left, one fails, or ``max_batches`` went."""
        outcome = PushOutcome()
        if self.link.stopped:
            # A new enrolment or key rotation (another process) clears the stop on disk.
            self.link.reload_quietly()
        if self.link.stopped:
            outcome.stopped = True
            outcome.error = self.link.stopped
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
            except Revoked as exc:
                self._stop(exc, outcome)
                return outcome
            except PushRefused as exc:
                if is_stale(exc):
                    if not stale_retried:
                        # Re-sign at once with the clock offset just learnt; once only.
                        stale_retried = True
                        continue
                elif (exc.status == 413 or exc.code == "too_large") and len(batch) > 1:
                    # The collector takes less than we send: halve the batch and go on.
                    self.batch_max_records = max(1, len(batch) // 2)
                    continue
                self._failed(exc, outcome)
                return outcome
            except (PushError, OutboxError) as exc:
                # OutboxError: the receipt came but could not be written (disk full). The
                # collector holds the batch; sent again after the wait, it answers duplicates.
                self._failed(exc, outcome)
                return outcome
        self.backoff.succeeded()
        self.link.failing(None)
        self.next_attempt_at = self.clock() + self.interval_seconds
        return outcome

    def _failed(self, exc: Exception, outcome: PushOutcome) -> None:
        wait = self.backoff.failed()
        self.last_waits.append(wait)
        del self.last_waits[:-20]
        self.next_attempt_at = self.clock() + wait
        outcome.error = str(exc)
        outcome.wait_seconds = wait
        message = f"{exc} (next attempt in {wait:.1f} s)"
        self.link.failing(message)
        try:
            self.outbox.add_counter("push_failures")
        except OutboxError:
            pass  # the disk is full: the error below says so (and logs when it cannot)
        self.outbox.record_error("push", message)

    def _stop(self, exc: PushRefused, outcome: PushOutcome) -> None:
        message = (
            f"the collector refuses this agent ({exc.status} {exc.code}, signed by the "
            "collector): pushing stopped; all records are kept. Fix: ask the collector's "
            "operator for a new token, run `esup-agent enrol`, then restart the agent / "
            "监察中心拒绝本代理，已停止上报，数据全部保留，请联系监察中心重新注册并重启代理"
        )
        self.link.stop(message)
        self.outbox.record_error("push", message)
        self.next_attempt_at = self.clock() + STOPPED_RECHECK_SECONDS
        outcome.stopped = True
        outcome.error = message

    def tick(self) -> PushOutcome | None:
        """Push if it is time (scheduler calls this often); None when waiting."""
        if self.clock() < self.next_attempt_at:
            return None
        return self.push()
