"""Bulk writes on PostgreSQL: one INSERT ... SELECT FROM unnest(arrays) per page.

SQLAlchemy's multi-row VALUES puts a placeholder per value in the statement (13,000 for a
page of 1,000 clocks) and psycopg parses that text on every page; that cost more than the
database work. Arrays keep the statement small and constant (SQLite keeps executemany).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

_CLOCK_COLUMNS = (
    ("sblsh", "text"),
    ("department", "text"),
    ("state", "text"),
    ("promised_deadline", "date"),
    ("legal_deadline", "date"),
    ("warning_on", "date"),
    ("workdays_used", "int"),
    ("provisional", "bool"),
    ("calendar_version", "int"),
    ("rule_version", "text"),
    ("clock", "json"),
    ("evaluated_at", "timestamptz"),
    ("recheck_on", "date"),
)

_VERDICT_COLUMNS = (
    ("sblsh", "text"),
    ("department", "text"),
    ("kind", "text"),
    ("code", "text"),
    ("rule", "text"),
    ("level", "text"),
    ("dedup_key", "text"),
    ("issued_at", "timestamptz"),
    ("due", "json"),
    ("calendar_version", "int"),
    ("rule_version", "text"),
    ("details", "json"),
)


def _unnest(columns: Sequence[tuple[str, str]]) -> str:
    # json[] cannot be bound directly: send text[] and cast each element.
    parts = [
        f"CAST(:{name} AS text[])::json[]" if kind == "json" else f"CAST(:{name} AS {kind}[])"
        for name, kind in columns
    ]
    return f"SELECT * FROM unnest({', '.join(parts)})"


def _arrays(columns: Sequence[tuple[str, str]], rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    arrays: dict[str, Any] = {}
    for name, kind in columns:
        values = [row[name] for row in rows]
        if kind == "json":
            values = [json.dumps(v, ensure_ascii=False, default=str) for v in values]
        arrays[name] = values
    return arrays


def upsert_clocks(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    names = [name for name, _ in _CLOCK_COLUMNS]
    updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in names if n != "sblsh")
    conn.execute(
        text(
            f"INSERT INTO case_clocks ({', '.join(names)}) {_unnest(_CLOCK_COLUMNS)} "
            f"ON CONFLICT (sblsh) DO UPDATE SET {updates}"
        ),
        _arrays(_CLOCK_COLUMNS, rows),
    )


def insert_verdicts(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[tuple[int, str]]:
    """Insert verdict rows; (id, dedup_key) of the ones really created."""
    names = [name for name, _ in _VERDICT_COLUMNS]
    result = conn.execute(
        text(
            f"INSERT INTO verdicts ({', '.join(names)}) {_unnest(_VERDICT_COLUMNS)} "
            "ON CONFLICT DO NOTHING RETURNING id, dedup_key"
        ),
        _arrays(_VERDICT_COLUMNS, rows),
    )
    return [(int(r[0]), str(r[1])) for r in result]
