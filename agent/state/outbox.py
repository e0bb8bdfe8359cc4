"""The outbox's face: what the pipelines, the pusher, the heartbeat and the CLI call.

Like a shipper's buffer (Telegraf's models/buffer.go: Add, Batch, Accept, Reject, with the
statistics kept apart): :meth:`Outbox.commit_chunk` adds a chunk, :meth:`Outbox.pending_batch`
gives the next batch, :meth:`Outbox.settle` accepts or rejects what a receipt covers. The
parts behind it (records, quarantine, cursors, statistics, the link to the collector) share one
connection; a chunk and a receipt are each one transaction.

Size bound: :meth:`Outbox.pause_reason` says when polling must stop (too many undelivered
records or bytes, or the disk's free space under the reserve, counting the chunk about to be
written). Nothing is dropped: the legacy database is the replay source, and polling resumes
once there is room again.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..errors import OutboxError, OutboxFull
from .cursors import Cursors
from .link import CollectorLink
from .quarantine import Quarantine, QuarantineEntry, QuarantineItem
from .records import OutboxRecord, PendingRecord, Records
from .stats import Stats
from .store import StateStore, utc_now

#: A chunk is written twice (the WAL, then the table) before a checkpoint frees the WAL.
WRITE_FACTOR = 2


def disk_free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


@dataclass(frozen=True)
class Limits:
    """Size bound of the outbox (undelivered records) and the disk space kept free."""

    max_records: int = 1_000_000
    max_bytes: int = 2 * 1024**3
    disk_reserve_bytes: int = 500 * 1024**2


@dataclass
class ChunkResult:
    added: int = 0
    duplicates: int = 0
    quarantined: int = 0
    bytes: int = 0  # of the records added
    seqs: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Settled:
    """What one receipt did to the outbox."""

    delivered: int = 0
    rejected: int = 0
    renumbered: int = 0
    reversioned: int = 0


class Outbox:
    """The agent's durable buffer. Thread-safe: one connection guarded by a lock."""

    def __init__(
        self,
        path: Path,
        limits: Limits | None = None,
        *,
        readonly: bool = False,
        free_space: Callable[[Path], int] = disk_free_bytes,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.path = path
        self.limits = limits or Limits()
        self.readonly = readonly
        self._free_space = free_space
        self._clock = clock
        # Free space at the last check, and how much the disk lost since the one before: what
        # the next chunk is expected to cost, WAL pages and indexes included.
        self._last_free: int | None = None
        self._last_drop = 0
        self.store = StateStore(path, readonly=readonly, clock=clock)
        self.records = Records(self.store)
        self.quarantined = Quarantine(self.store)
        self.positions = Cursors(self.store)
        self.statistics = Stats(self.store)
        self.link = CollectorLink(self.store, self.records)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- add --------------------------------------------------------------------------------
    def commit_chunk(
        self,
        source: str,
        table_key: str,
        records: Sequence[OutboxRecord],
        quarantined: Sequence[QuarantineItem] = (),
        cursor: Mapping[str, Any] | None = None,
        *,
        excluded: int = 0,
        resolved: Sequence[tuple[str, str]] = (),
    ) -> ChunkResult:
        """Store a chunk's records and quarantined rows and advance the cursor atomically.

        ``cursor=None`` leaves the cursor alone (backfill and replay). ``resolved`` lists
        (record type, row key) of rows that now map cleanly or are excluded (for instance
        corrected in the legacy system): their open quarantine entries are closed."""
        result = ChunkResult()
        now = self.store.now()
        with self.store.transaction("store a chunk") as conn:
            for rec in records:
                stored = self.records.capture(conn, rec, source, table_key, now)
                if stored is not None:
                    result.added += 1
                    result.seqs.append(stored[0])
                    result.bytes += stored[1]
                else:
                    result.duplicates += 1
            for item in quarantined:
                Quarantine.keep(conn, item, now)
                result.quarantined += 1
            if resolved:
                Quarantine.resolve(conn, source, resolved, now)
            if cursor is not None:
                Cursors.save(conn, source, table_key, cursor, now)
            Stats.count(conn, "captured", result.added)
            Stats.count(conn, "duplicates", result.duplicates)
            Stats.count(conn, "quarantined", result.quarantined)
            Stats.count(conn, "excluded", excluded)
        return result

    def resolve_quarantined(self, entry_id: int, record: OutboxRecord | None) -> bool:
        """Close a quarantine entry, storing its now-valid record (None: now excluded).

        Returns True when the record was new to the outbox."""
        now = self.store.now()
        added = False
        with self.store.transaction("replay a quarantined row") as conn:
            source, table_key = Quarantine.origin(conn, entry_id)
            if record is not None:
                added = self.records.capture(conn, record, source, table_key, now) is not None
                Stats.count(conn, "captured", int(added))
            Quarantine.close(conn, entry_id, now)
        return added

    def update_quarantined(self, entry_id: int, problems: Sequence[Mapping[str, Any]]) -> None:
        with self.store.transaction("update a quarantined row") as conn:
            Quarantine.set_problems(conn, entry_id, problems)

    # -- batch, accept, reject --------------------------------------------------------------
    def pending_batch(self, max_records: int, max_bytes: int) -> list[PendingRecord]:
        """The oldest undelivered records, bounded by count and bytes (at least one)."""
        return self.records.pending_batch(max_records, max_bytes)

    def settle(
        self,
        delivered: Sequence[int],
        rejected: Sequence[tuple[int, str, str]] = (),
        *,
        renumber: Sequence[int] = (),
        conflicts: Sequence[tuple[int, str, str]] = (),
        collector_last_seq: int | None = None,
        behind: bool | None = None,
    ) -> Settled:
        """Apply one verified receipt in ONE transaction: delivered seqs, rejected ones (kept
        with the collector's reason, not sent again), seqs the collector already held with
        other content (``renumber``: sent again under fresh numbers above its last seq), and
        ``conflicts``: records whose version the collector holds with other content, sent
        again as the next version where the agent numbered it, else rejected."""
        now = self.store.now()
        try:
            with self.store.transaction("mark records delivered") as conn:
                if collector_last_seq is not None:
                    self.link.heard_last_seq(collector_last_seq, conn)
                n_delivered = Records.mark_delivered(conn, delivered, now)
                kept = list(rejected)
                reversioned = 0
                for seq, code, reason in conflicts:
                    why = self.records.next_version(conn, seq, self.link.collector_last_seq, now)
                    if why is None:
                        reversioned += 1
                    else:
                        kept.append((seq, code, f"{reason} ({why})"))
                n_rejected = Records.mark_rejected(conn, kept, now)
                moved = (
                    self.records.renumber(conn, renumber, self.link.collector_last_seq)
                    if renumber
                    else 0
                )
                Stats.count(conn, "delivered", n_delivered)
                Stats.count(conn, "rejected", n_rejected)
                Stats.count(conn, "renumbered", moved)
                Stats.count(conn, "reversioned", reversioned)
                if behind is not None:
                    self.link.batch_acknowledged(conn, now, behind=behind)
        except OutboxError:
            self.link.reload_quietly()  # what the rolled-back transaction told it
            raise
        return Settled(n_delivered, n_rejected, moved, reversioned)

    def mark_delivered(self, seqs: Sequence[int]) -> int:
        return self.settle(seqs).delivered

    def mark_rejected(self, rejected: Sequence[tuple[int, str, str]]) -> int:
        """Keep rejected records with the collector's reason; they are not sent again."""
        return self.settle((), rejected).rejected

    def prune(self, retention: timedelta) -> int:
        """Clear the bodies of records delivered before ``retention`` ago; keys stay."""
        before = (self._clock() - retention).isoformat(timespec="milliseconds")
        with self.store.transaction("prune delivered records") as conn:
            return Records.prune(conn, before)

    # -- size bound -------------------------------------------------------------------------
    def pending_count(self) -> int:
        """Undelivered records (a running total: no body read)."""
        return self.records.pending_count()

    def pending_totals(self) -> tuple[int, int]:
        return self.records.pending_totals()

    def pause_reason(self, incoming_bytes: int = 0) -> str | None:
        """Why polling must pause now, or None when there is room for ``incoming_bytes``
        more. Cheap enough for every chunk: running totals and one statvfs. The disk must
        keep its reserve after the next chunk, whose cost is the larger of ``incoming_bytes``
        written twice and what the disk lost since the previous check."""
        count, size = self.pending_totals()
        if count >= self.limits.max_records:
            return (
                f"outbox full: {count} undelivered records (limit outbox.max_records = "
                f"{self.limits.max_records}); polling resumes when delivery catches up / "
                "发件箱已满，暂停采集，待上报后自动恢复"
            )
        if size + incoming_bytes >= self.limits.max_bytes:
            return (
                f"outbox full: {size} bytes undelivered (limit outbox.max_bytes = "
                f"{self.limits.max_bytes}); polling resumes when delivery catches up / "
                "发件箱已满，暂停采集，待上报后自动恢复"
            )
        try:
            free = self._free_space(self.path.parent)
        except OSError as exc:
            return f"cannot measure free disk space of {self.path.parent}: {exc}"
        if self._last_free is not None:
            self._last_drop = max(0, self._last_free - free)
        self._last_free = free
        cost = max(WRITE_FACTOR * incoming_bytes, self._last_drop)
        if free - cost < self.limits.disk_reserve_bytes:
            return (
                f"disk reserve reached: {free // 2**20} MiB free on {self.path.parent}, "
                f"reserve outbox.disk_reserve_mb = {self.limits.disk_reserve_bytes // 2**20} "
                "MiB; free disk space and polling resumes by itself / "
                "磁盘剩余空间低于保留值，已暂停采集，释放空间后自动恢复"
            )
        return None

    def check_room(self, incoming_bytes: int = 0) -> None:
        """Raise OutboxFull when polling must pause; records the condition when it changes."""
        reason = self.pause_reason(incoming_bytes)
        self.statistics.set_paused(reason)
        if reason is not None:
            raise OutboxFull(reason)

    # -- reads ------------------------------------------------------------------------------
    def cursor(self, source: str, table_key: str) -> dict[str, Any] | None:
        return self.positions.get(source, table_key)

    def cursors(self) -> list[dict[str, Any]]:
        return self.positions.all()

    def quarantine(self, state: str | None = "open") -> list[QuarantineEntry]:
        return self.quarantined.entries(state)

    def record(self, seq: int) -> dict[str, Any] | None:
        return self.records.record(seq)

    def rejected(self, limit: int = 20) -> list[dict[str, Any]]:
        return self.records.rejected(limit)

    @property
    def paused(self) -> str | None:
        return self.statistics.paused

    @property
    def reconcile(self) -> dict[str, Any] | None:
        return self.statistics.reconcile

    def set_reconcile(self, report: dict[str, Any]) -> None:
        self.statistics.set_reconcile(report)

    def add_counter(self, name: str, n: int = 1) -> None:
        self.statistics.add(name, n)

    def counters(self) -> dict[str, int]:
        return self.statistics.counters()

    def record_error(self, place: str, message: str) -> bool:
        return self.statistics.record_error(place, message)

    def last_errors(self, limit: int = 10) -> list[dict[str, str]]:
        return self.statistics.last_errors(limit)

    def stats(self) -> dict[str, Any]:
        """Figures for status, heartbeat and metrics."""
        by_state = self.records.by_state()
        pending, pending_bytes = self.pending_totals()
        oldest = self.records.oldest_pending()
        oldest_age = None
        if oldest is not None:
            oldest_age = max(0.0, (self._clock() - datetime.fromisoformat(oldest)).total_seconds())
        return {
            "pending": pending,
            "pending_bytes": pending_bytes,
            "delivered": by_state.get("delivered", 0),
            "rejected": by_state.get("rejected", 0),
            "oldest_pending_captured_at": oldest,
            "oldest_pending_seconds": oldest_age,
            "last_seq": self.records.highest_seq(),
            "quarantined": self.quarantined.open_count(),
        }


__all__ = ["ChunkResult", "Limits", "Outbox", "OutboxError", "Settled", "disk_free_bytes"]
