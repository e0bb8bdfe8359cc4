"""refusal_without_reason for SL records the door rejected: validation refuses a refusal
without a reason (rule.refusal_needs_reason), but the refusal itself still happened at the
department, so the rejected record is reported as the case's anomaly."""

from __future__ import annotations

from sqlalchemy import Connection, select

from collector.engine.verdicts import Candidate
from collector.store.tables import invalid_records

_CODE = "rule.refusal_needs_reason"


def rejected_refusals(conn: Connection) -> list[tuple[str, str, Candidate]]:
    found: dict[str, tuple[str, str, Candidate]] = {}
    rows = conn.execute(
        select(
            invalid_records.c.id,
            invalid_records.c.body,
            invalid_records.c.problems,
            invalid_records.c.department,
            invalid_records.c.source,
        ).where(invalid_records.c.body.is_not(None))
    )
    for row in rows:
        problems = row.problems if isinstance(row.problems, list) else []
        if not any(isinstance(p, dict) and p.get("code") == _CODE for p in problems):
            continue
        body = row.body if isinstance(row.body, dict) else {}
        sblsh = body.get("SBLSH")
        if not isinstance(sblsh, str) or not sblsh or sblsh in found:
            continue
        department = str(row.department or body.get("BMBM") or "")
        found[sblsh] = (
            sblsh,
            department,
            Candidate(
                "anomaly",
                "refusal_without_reason",
                "refusal_without_reason",
                "anomaly",
                {
                    "SLZTDM": body.get("SLZTDM"),
                    "invalid_record": row.id,
                    "source": row.source,
                    "rejected_at_door": True,
                },
            ),
        )
    return list(found.values())
