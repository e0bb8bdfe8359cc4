"""Source -> mapping -> outbox, chunk by chunk (memory stays flat on any table size).

Each chunk read from a source is mapped row by row: valid records go to the outbox,
invalid ones to the quarantine (they never hold back valid ones), excluded rows are only
counted; then the chunk and its cursor are committed in one outbox transaction.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from .backlog import CaptureState
from .errors import OutboxFull
from .mapping import Mapping, MapResult
from .rowjson import dumps as row_dumps
from .sources import Chunk, OdbcSource, SourceSettings, TableSettings
from .state import ChunkResult, Outbox, OutboxRecord, QuarantineItem


class RowMapper(Protocol):
    def map_row(self, record_type: str, row: Any) -> MapResult: ...

    def maps_version(self, record_type: str) -> bool:
        """Whether SJBBH comes from a legacy column; else the outbox numbers versions."""
        ...


def table_key(table: TableSettings) -> str:
    """How a table's cursor and quarantined rows are filed: ``TYPE:table``."""
    return f"{table.record_type}:{table.label}"


def row_key(table: TableSettings, row: dict[str, Any]) -> str:
    """Identity of a legacy row in the quarantine: its key column, else a hash of it."""
    value = row.get(table.key_column)
    if value is not None:
        return f"{table.label}:{value}"
    return f"{table.label}#" + hashlib.sha256(row_dumps(row).encode()).hexdigest()[:32]


@dataclass
class TableReport:
    source: str
    table: str
    chunks: int = 0
    rows: int = 0
    added: int = 0
    duplicates: int = 0
    quarantined: int = 0
    excluded: int = 0
    paused: str | None = None

    def add(self, result: ChunkResult, rows: int, excluded: int) -> None:
        self.chunks += 1
        self.rows += rows
        self.added += result.added
        self.duplicates += result.duplicates
        self.quarantined += result.quarantined
        self.excluded += excluded


@dataclass
class MappedChunk:
    records: list[OutboxRecord] = field(default_factory=list)
    quarantined: list[QuarantineItem] = field(default_factory=list)
    excluded: int = 0
    resolved: list[tuple[str, str]] = field(default_factory=list)


def map_chunk(
    source: str, table: TableSettings, rows: Iterable[dict[str, Any]], mapper: RowMapper
) -> MappedChunk:
    out = MappedChunk()
    # Looked up once per chunk, not per row: this loop runs for every legacy row.
    record_type = table.record_type
    key_column = table.key_column
    label = table.label
    map_row = mapper.map_row
    add_record = out.records.append
    add_resolved = out.resolved.append
    to_outbox = OutboxRecord.from_record
    # A changed row must reach the collector as a new data version: unless the mapping reads
    # SJBBH from the legacy data, the outbox numbers versions itself.
    auto_version = not mapper.maps_version(record_type)
    for row in rows:
        result = map_row(record_type, row)
        status = result.status
        if status == "ok" or status == "excluded":
            key = row.get(key_column)
            if key is not None:
                # A row quarantined earlier under the same key is fine now (fixed at source).
                add_resolved((record_type, f"{label}:{key}"))
            if status == "excluded":
                out.excluded += 1
                continue
            if result.record is not None:
                add_record(to_outbox(result.record, auto_version=auto_version))
                continue
        out.quarantined.append(
            QuarantineItem(
                source=source,
                table_key=table_key(table),
                record_type=record_type,
                row_key=row_key(table, row),
                row=row,
                problems=list(result.problems),
                partial=result.record,
                reason=result.reason,
            )
        )
    return out


class Pipeline:
    """Moves rows of one source into the outbox."""

    def __init__(
        self,
        settings: SourceSettings,
        mapper: RowMapper,
        outbox: Outbox,
        *,
        source_factory: Callable[[SourceSettings], OdbcSource] = OdbcSource,
        stop: threading.Event | None = None,
        capture: CaptureState | None = None,
    ) -> None:
        self.settings = settings
        self.mapper = mapper
        self.outbox = outbox
        self.source_factory = source_factory
        self.stop = stop or threading.Event()
        self.capture = capture or CaptureState()
        # Bytes the last chunk added: what the next one is expected to write.
        self.chunk_bytes = 0

    @classmethod
    def for_source(
        cls, settings: SourceSettings, outbox: Outbox, hmac_key: bytes, **kw: Any
    ) -> Pipeline:
        from .errors import ConfigError

        if not settings.mapping:
            raise ConfigError(
                f"source '{settings.name}' has no 'mapping' file. Fix: add "
                'mapping = "mapping.toml" to its [[sources]] table / 数据源未配置映射文件'
            )
        return cls(
            settings,
            Mapping.load(settings.mapping, hmac_key=hmac_key, timezone=settings.timezone),
            outbox,
            **kw,
        )

    def _consume(
        self, table: TableSettings, chunks: Iterator[Chunk], report: TableReport, *, advance: bool
    ) -> None:
        for chunk in chunks:
            # Checked before committing each chunk, counting the bytes it is expected to
            # write: a chunk that does not fit is not stored and the cursor stays put, so it
            # is read again once there is room.
            self.outbox.check_room(self.chunk_bytes)
            mapped = map_chunk(self.settings.name, table, chunk.rows, self.mapper)
            if advance and chunk.rows:
                # Marked before the commit: a batch that already holds this chunk's records
                # must not say "nothing is being read" while the poll goes on.
                self.capture.started(self.settings.name)
            result = self.outbox.commit_chunk(
                self.settings.name,
                table_key(table),
                mapped.records,
                mapped.quarantined,
                chunk.cursor if advance else None,
                excluded=mapped.excluded,
                resolved=mapped.resolved,
            )
            report.add(result, len(chunk.rows), mapped.excluded)
            self.chunk_bytes = max(self.chunk_bytes // 2, result.bytes)
            if self.stop.is_set():
                return

    def poll(self) -> list[TableReport]:
        """Read every table from its cursor to now. Stops (without error) when paused."""
        reports: list[TableReport] = []
        try:
            self.outbox.check_room()  # also clears a pause recorded by an earlier poll
        except OutboxFull as exc:
            report = TableReport(self.settings.name, "*")
            report.paused = str(exc)
            return [report]
        try:
            with self.source_factory(self.settings) as source:
                for table in self.settings.tables:
                    report = TableReport(self.settings.name, table_key(table))
                    reports.append(report)
                    try:
                        cursor = self.outbox.cursor(self.settings.name, table_key(table))
                        chunks = source.read(table, cursor)
                        try:
                            self._consume(table, chunks, report, advance=True)
                        finally:
                            if isinstance(chunks, Generator):
                                chunks.close()  # release the statement before the next table
                    except OutboxFull as exc:
                        report.paused = str(exc)
                        break
                    if self.stop.is_set():
                        break
        finally:
            self.capture.finished(self.settings.name)  # set by _consume once rows came
        return reports

    def backfill(
        self,
        table: TableSettings,
        start: Any,
        end: Any,
        *,
        progress: Callable[[int], None] = lambda n: None,
        source: OdbcSource | None = None,
    ) -> TableReport:
        """Re-read a range; records already in the outbox are recognised by their keys."""
        report = TableReport(self.settings.name, table_key(table))

        def counted(chunks: Iterator[Chunk]) -> Iterator[Chunk]:
            for chunk in chunks:
                yield chunk
                progress(len(chunk.rows))

        if source is None:
            with self.source_factory(self.settings) as own:
                self._consume(
                    table, counted(own.read_range(table, start, end)), report, advance=False
                )
        else:
            self._consume(
                table, counted(source.read_range(table, start, end)), report, advance=False
            )
        return report


def replay_quarantine(outbox: Outbox, mappers: dict[str, RowMapper]) -> dict[str, int]:
    """Re-map open quarantined rows with the current mappings; valid ones join the outbox."""
    counts = {"replayed": 0, "added": 0, "excluded": 0, "still_invalid": 0, "no_source": 0}
    for entry in outbox.quarantine("open"):
        mapper = mappers.get(entry.source)
        if mapper is None:
            counts["no_source"] += 1
            continue
        result = mapper.map_row(entry.record_type, entry.row)
        if result.status == "ok" and result.record is not None:
            record = OutboxRecord.from_record(
                result.record, auto_version=not mapper.maps_version(entry.record_type)
            )
            added = outbox.resolve_quarantined(entry.id, record)
            counts["replayed"] += 1
            counts["added"] += int(added)
        elif result.status == "excluded":
            outbox.resolve_quarantined(entry.id, None)
            counts["excluded"] += 1
        else:
            outbox.update_quarantined(entry.id, list(result.problems))
            counts["still_invalid"] += 1
    return counts
