"""Import spec records from a JSON Lines file through the same path as agent batches.

The file is streamed in chunks of :data:`CHUNK_LINES` lines, one transaction per chunk, so
memory stays flat whatever the file size. Each line goes through
:class:`collector.store.ingest.RecordWriter` with source ``import:<file name>`` and its line
number as seq; a line whose BMBM differs from the department is rejected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from exchange_spec import DEFAULT_DATE_BOUNDS, DateBounds

from .errors import CollectorError, StoreError
from .store.enrolment import ensure_department
from .store.ingest import Outcome, RecordWriter, Source, problem
from .store.timestamps import utc_now

CHUNK_LINES = 500


@dataclass
class ImportSummary:
    accepted: int = 0
    duplicate: int = 0
    superseded: int = 0
    #: (line number, problems) of every rejected line
    invalid: list[tuple[int, tuple[dict[str, str], ...]]] = field(default_factory=list)

    def count(self, outcome: Outcome) -> None:
        if outcome.status == "rejected" or outcome.problems:
            self.invalid.append((outcome.seq or 0, outcome.problems))
        elif outcome.status in ("accepted", "duplicate", "superseded"):
            setattr(self, outcome.status, getattr(self, outcome.status) + 1)


def _lines(path: Path) -> Iterator[tuple[int, int, Any]]:
    """Yield (line number, bytes read so far, parsed record or a parse problem)."""
    try:
        with path.open("rb") as fh:
            read = 0
            for number, raw in enumerate(fh, start=1):
                read += len(raw)
                if not raw.strip():
                    continue
                try:
                    yield number, read, json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, ValueError) as exc:
                    yield number, read, _Unparsable(str(exc))
    except OSError as exc:
        raise CollectorError(f"cannot read {path}: {exc}") from exc


@dataclass(frozen=True)
class _Unparsable:
    reason: str

    def problem(self, number: int) -> dict[str, str]:
        return problem(
            "schema.json",
            "",
            f"第 {number} 行不是合法的 JSON：{self.reason}",
            f"line {number} is not valid JSON: {self.reason}",
        )


def import_file(
    engine: Engine,
    path: Path,
    department: str,
    *,
    on_progress: Callable[[int], None] | None = None,
    date_bounds: DateBounds = DEFAULT_DATE_BOUNDS,
) -> ImportSummary:
    """Import ``path`` for ``department``; returns counts and the rejected lines."""
    summary = ImportSummary()
    source = Source(name=f"import:{path.name}", department=department)
    chunk: list[tuple[int, Any]] = []
    done = 0

    def flush() -> None:
        now = utc_now()
        try:
            with engine.begin() as conn:
                ensure_department(conn, department)
                writer = RecordWriter(conn, source, now=now, date_bounds=date_bounds)
                parsed = [(n, r, None) for n, r in chunk if not isinstance(r, _Unparsable)]
                stored = iter(writer.store_many(parsed))
                # Count in line order, unparsable lines among the others.
                for number, record in chunk:
                    if isinstance(record, _Unparsable):
                        summary.invalid.append((number, (record.problem(number),)))
                    else:
                        summary.count(next(stored))
        except SQLAlchemyError as exc:
            raise StoreError(f"storing lines of {path} failed: {exc}") from exc
        chunk.clear()

    for number, read, record in _lines(path):
        chunk.append((number, record))
        if len(chunk) >= CHUNK_LINES:
            flush()
            if on_progress is not None:
                on_progress(read - done)
            done = read
    if chunk:
        flush()
    if on_progress is not None:
        on_progress(max(0, path.stat().st_size - done))
    return summary
