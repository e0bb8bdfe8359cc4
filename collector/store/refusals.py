"""Records the ingest refused, for the bureau: kept in ``invalid_records`` with their reasons."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Text, cast, select

from .tables import invalid_records
from .timestamps import as_utc


@dataclass(frozen=True)
class Refused:
    id: int
    received_at: datetime
    source: str  # agent id or "import:<file>"
    seq: int | None
    department: str | None  # the department the source sends for
    record_type: str | None
    sblsh: str | None
    problems: tuple[Mapping[str, str], ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "received_at": self.received_at.isoformat(),
            "source": self.source,
            "seq": self.seq,
            "department": self.department,
            "record_type": self.record_type,
            "case_id": self.sblsh,
            "problems": [dict(p) for p in self.problems],
        }


def refused_records(
    conn: Connection, *, code: str | None, department: str | None, limit: int
) -> list[Refused]:
    """The newest ``limit`` refused records, of one reason ``code`` and ``department``."""
    query = select(invalid_records).order_by(invalid_records.c.id.desc())
    if department is not None:
        query = query.where(invalid_records.c.department == department)
    if code is not None:  # a cheap pre-filter on the JSON text; the exact test is below
        query = query.where(cast(invalid_records.c.problems, Text).contains(f'"{code}"'))
    found: list[Refused] = []
    for row in conn.execute(query.execution_options(yield_per=500)):
        problems = tuple(p for p in (row.problems or ()) if isinstance(p, Mapping))
        if code is not None and not any(p.get("code") == code for p in problems):
            continue
        body = row.body if isinstance(row.body, Mapping) else {}
        received = as_utc(row.received_at)
        assert received is not None
        found.append(
            Refused(
                int(row.id),
                received,
                str(row.source),
                int(row.seq) if row.seq is not None else None,
                row.department,
                str(body["type"]) if "type" in body else None,
                str(body["SBLSH"]) if "SBLSH" in body else None,
                problems,
            )
        )
        if len(found) >= limit:
            break
    return found
