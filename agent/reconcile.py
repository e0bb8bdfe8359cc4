"""Reconciliation (对账): count what the legacy database holds, send RECON records, and
capture rows the polls never read.

A pass reads, for every source table whose record type has an event time, the rows of the
last ``days`` days straight from the LEGACY database (not from the outbox: the point is to
catch rows the cursor never read). Each row goes through the mapping as in a poll; per record
type and event day (UTC+8, :func:`exchange_spec.recon.event_day`) it counts the distinct
business keys of the records the mapping makes, with their digest
(:class:`exchange_spec.recon.KeyDigest`), and the rows it would quarantine. Excluded
(secret-level) rows are not counted and nothing of them is kept.

Every record the pass maps is committed to the outbox like a backfill (the outbox recognises
those it holds), BEFORE the RECON records: the collector receives them in sequence order, so
it compares a RECON with a store that already holds everything counted. Rows standing
behind a table's read position (:class:`agent.sources.positions.ReadLine`) that the outbox
did not hold are rows the polls lost (a transaction that committed later than the re-read
window allows): they are captured now, counted, logged and reported in ``status`` and the
heartbeat (a number, never their keys).

Memory: rows are streamed in chunks; what is kept is one 32-byte hash per counted record of
the window and a counter per day.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from exchange_spec import SPEC_VERSION
from exchange_spec.recon import DAY_ZONE, KeyDigest, event_day
from exchange_spec.records import TIME_FIELDS

from .errors import AgentError
from .pipeline import MappedChunk, Pipeline, map_chunk, table_key
from .sources import TableSettings
from .sources.positions import ReadLine, row_time
from .state import Outbox, OutboxRecord

log = logging.getLogger("esup.agent.reconcile")

#: Source name under which RECON records are filed in the outbox.
RECON_SOURCE = "reconcile"


@dataclass(frozen=True)
class ReconcileSettings:
    """``[reconcile]`` of agent.toml."""

    enabled: bool = True
    interval_minutes: float = 60.0
    days: int = 7


@dataclass
class _Day:
    keys: set[bytes] = field(default_factory=set)
    quarantined: set[str] = field(default_factory=set)


@dataclass
class PassResult:
    """What one pass did."""

    at: str
    days: list[str]
    recon_records: int = 0
    missed: int = 0  # rows behind a read position the outbox never held: captured now
    missed_by_table: dict[str, int] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # type -> day -> count
    not_counted: dict[str, str] = field(default_factory=dict)  # record type -> why

    def as_meta(self, missed_total: int) -> dict[str, Any]:
        return {
            "at": self.at,
            "days": len(self.days),
            "recon_records": self.recon_records,
            "missed": self.missed,
            "missed_total": missed_total,
            "missed_by_table": self.missed_by_table,
            "not_counted": self.not_counted,
        }


def window(days: int, now: datetime) -> list[date]:
    """The days counted: today (UTC+8) and the ``days - 1`` before it, oldest first."""
    today = now.astimezone(DAY_ZONE).date()
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]


def _counted(table: TableSettings) -> bool:
    return TIME_FIELDS.get(table.record_type) is not None


class _Pass:
    """The tallies of one pass. A record type's counts are queued as soon as the last of its
    tables is read: a record a poll captures later (after the count) then also reaches the
    collector after the count, instead of in front of it, where it would look like one too
    many."""

    def __init__(
        self,
        outbox: Outbox,
        days: list[date],
        result: PassResult,
        *,
        department: str,
        pipelines: Sequence[Pipeline],
    ) -> None:
        self.outbox = outbox
        self.days = set(days)
        self.result = result
        self.department = department
        self.tallies: dict[tuple[str, date], _Day] = {}
        self.tables: dict[str, set[str]] = {}  # record type -> table labels counted
        self.unread = Counter(
            t.record_type for p in pipelines for t in p.settings.tables if _counted(t)
        )

    def tally(self, mapped: MappedChunk, table: TableSettings, zone: ZoneInfo) -> None:
        for rec in mapped.records:
            day = event_day(rec.event_time)
            if day in self.days:
                assert day is not None
                self._day(rec.record_type, day).keys.add(KeyDigest.key_hash(rec.business_key))
        for item in mapped.quarantined:
            partial = item.partial or {}
            field_name = TIME_FIELDS.get(item.record_type)
            day = event_day(str(partial.get(field_name) or "")) if field_name else None
            if day is None:  # the event time itself is what failed: the change time's day
                changed = row_time(table, dict(item.row), zone)
                day = event_day(changed.isoformat()) if changed else None
            if day in self.days:
                assert day is not None
                self._day(item.record_type, day).quarantined.add(item.row_key)

    def _day(self, record_type: str, day: date) -> _Day:
        return self.tallies.setdefault((record_type, day), _Day())

    def read_table(self, pipeline: Pipeline, source: Any, table: TableSettings) -> None:
        name = pipeline.settings.name
        key = table_key(table)
        line = ReadLine(table, self.outbox.cursor(name, key), ZoneInfo(pipeline.settings.timezone))
        start = None
        if table.mode == "timestamp":
            # A row's change time is not before its event; a day of margin covers zones.
            oldest = min(self.days)
            start = datetime.combine(oldest, time(), DAY_ZONE) - timedelta(days=1)
        chunks = source.read_range(table, start, None)
        try:
            for chunk in chunks:
                if pipeline.stop.is_set():
                    raise _Stopped()
                behind: list[dict[str, Any]] = []
                ahead: list[dict[str, Any]] = []
                for row in chunk.rows:  # one test per row: it parses the row's change time
                    (behind if line.behind(row) else ahead).append(row)
                self.capture(pipeline, table, behind, ahead)
        finally:
            if isinstance(chunks, Generator):
                chunks.close()  # release the statement before the next table
        self.tables.setdefault(table.record_type, set()).add(table.label)
        self.unread[table.record_type] -= 1
        if self.unread[table.record_type] == 0:
            self.send(table.record_type)

    def capture(
        self,
        pipeline: Pipeline,
        table: TableSettings,
        behind: list[dict[str, Any]],
        ahead: list[dict[str, Any]],
    ) -> None:
        name, key = pipeline.settings.name, table_key(table)
        lost = map_chunk(name, table, behind, pipeline.mapper)
        coming = map_chunk(name, table, ahead, pipeline.mapper)
        zone = ZoneInfo(pipeline.settings.timezone)  # ZoneInfo caches its instances
        self.tally(lost, table, zone)
        self.tally(coming, table, zone)
        self.outbox.check_room()
        # Rows behind the read position are quarantined here (no poll will see them again);
        # rows ahead of it are quarantined by the poll that reads them.
        found = self.outbox.commit_chunk(
            name, key, lost.records, lost.quarantined, None, resolved=lost.resolved
        )
        self.outbox.commit_chunk(name, key, coming.records, (), None, resolved=coming.resolved)
        if found.added:
            self.result.missed += found.added
            self.result.missed_by_table[key] = self.result.missed_by_table.get(key, 0) + found.added

    def send(self, record_type: str) -> None:
        """Queue the counts of one record type, one RECON per day (zero counts too)."""
        if record_type in self.result.not_counted:
            return
        per_day = self.result.counts.setdefault(record_type, {})
        records: list[OutboxRecord] = []
        for day in sorted(self.days):
            tally = self.tallies.get((record_type, day), _Day())
            digest = KeyDigest()
            for key_hash in tally.keys:
                digest.add_hash(key_hash)
            per_day[day.isoformat()] = digest.count
            records.append(
                OutboxRecord.from_record(
                    {
                        "spec": SPEC_VERSION,
                        "type": "RECON",
                        "BMBM": self.department,
                        "RECORD_TYPE": record_type,
                        "DAY": day.isoformat(),
                        "COUNT": digest.count,
                        "QUARANTINED": len(tally.quarantined),
                        "DIGEST": digest.hexdigest(),
                        "SOURCE_TABLE": ",".join(sorted(self.tables[record_type]))[:200],
                        "COUNTED_AT": self.result.at,
                    }
                )
            )
        self.outbox.check_room()
        self.outbox.commit_chunk(RECON_SOURCE, "RECON", records, (), None)
        self.result.recon_records += len(records)


class _Stopped(Exception):
    """The agent is stopping: the pass ends without sending partial counts."""


def run_pass(
    pipelines: Sequence[Pipeline],
    outbox: Outbox,
    department: str,
    settings: ReconcileSettings,
    *,
    now: datetime | None = None,
) -> PassResult:
    """One reconciliation pass over every source; RECON records are queued in the outbox
    for the record types whose tables were all read (a failed table is named in
    ``not_counted`` and its type is left out: a partial count would be a false alarm)."""
    moment = (now or datetime.now(UTC)).astimezone(DAY_ZONE)
    days = window(settings.days, moment)
    result = PassResult(moment.isoformat(timespec="seconds"), [d.isoformat() for d in days])
    run = _Pass(outbox, days, result, department=department, pipelines=pipelines)
    for pipeline in pipelines:
        tables = [t for t in pipeline.settings.tables if _counted(t)]
        if not tables:
            continue
        done = 0
        try:
            with pipeline.source_factory(pipeline.settings) as source:
                for table in tables:
                    run.read_table(pipeline, source, table)
                    done += 1
        except _Stopped:
            return result
        except AgentError as exc:
            for table in tables[done:]:
                result.not_counted.setdefault(table.record_type, str(exc))
    previous = outbox.reconcile or {}
    outbox.set_reconcile(result.as_meta(int(previous.get("missed_total", 0)) + result.missed))
    return result


def run_logged(
    pipelines: Sequence[Pipeline], outbox: Outbox, department: str, settings: ReconcileSettings
) -> PassResult | None:
    """The scheduled job: one pass, with its findings and errors logged and recorded (a
    failing pass must not stop the agent's other jobs)."""
    try:
        result = run_pass(pipelines, outbox, department, settings)
    except AgentError as exc:
        outbox.record_error("reconcile", str(exc))
        log.error("reconciliation failed: %s", exc)
        return None
    for record_type, why in result.not_counted.items():
        outbox.record_error("reconcile", f"{record_type} not counted: {why}")
        log.error("reconciliation: %s not counted: %s", record_type, why)
    if result.missed:
        log.warning("%s", missed_message(result.missed, result.missed_by_table))
    log.info(
        "reconciliation: %d RECON record(s) queued for %d day(s)",
        result.recon_records,
        len(result.days),
    )
    return result


def missed_message(missed: int, by_table: dict[str, int]) -> str:
    """What department IT reads when rows were found behind the read position."""
    tables = ", ".join(f"{table} {n}" for table, n in sorted(by_table.items()))
    where_zh, where_en = (f"（{tables}）", f" ({tables})") if tables else ("", "")
    return (
        f"对账发现 {missed} 行数据的修改时间早于读取位置、从未被采集{where_zh}，现已补采上报；"
        "请调大该表的 reread_seconds（重读窗口），使其覆盖源系统最慢的事务 / "
        f"reconciliation found {missed} row(s) older than the read position that no poll "
        f"had read{where_en}; they are captured now. Raise the table's reread_seconds so "
        "the re-read window covers the source system's slowest transactions"
    )


def missed_rows(outbox: Outbox) -> dict[str, Any] | None:
    """The figures status and the heartbeat show: when the last pass ran, the rows it found
    behind a read position and the total since the agent's first pass (counts, never keys)."""
    meta = outbox.reconcile
    if not meta:
        return None
    return {k: meta.get(k) for k in ("at", "missed", "missed_total")}


def render_lines(meta: dict[str, Any] | None) -> list[str]:
    """The lines of ``esup-agent status`` about reconciliation."""
    label = "reconcile / 对账:               "
    if not meta:
        return [f"{label} not run yet / 尚未运行"]
    sent = meta.get("recon_records", 0)
    lines = [
        f"{label} last pass {meta['at']}: {sent} counts sent / 最近一次对账，发送 {sent} 条计数"
    ]
    if meta.get("missed"):
        lines.append(
            "WARNING / 警告: " + missed_message(meta["missed"], meta.get("missed_by_table") or {})
        )
    elif meta.get("missed_total"):
        total = meta["missed_total"]
        lines.append(
            f"WARNING / 警告: 以前的对账共发现 {total} 行漏采数据，均已补采；最近一次未再发现 / "
            f"earlier passes found {total} row(s) no poll had read (all captured); the last "
            "pass found none"
        )
    for record_type, why in sorted((meta.get("not_counted") or {}).items()):
        lines.append(f"  {record_type} not counted / 未计数: {why}")
    return lines
