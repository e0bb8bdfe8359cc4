"""Bulk writes on PostgreSQL: one INSERT ... SELECT FROM json_to_recordset(page) per page.

SQLAlchemy's multi-row VALUES puts a placeholder per value in the statement (13,000 for a
page of 1,000 clocks) and psycopg parses that text on every page; arrays of text were no
better, since psycopg escapes every quote of every JSON element in Python. One JSON document
per page is a single string parameter that PostgreSQL parses in C (SQLite keeps executemany).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
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


def _recordset(columns: Sequence[tuple[str, str]]) -> str:
    definition = ", ".join(f"{name} {kind}" for name, kind in columns)
    names = ", ".join(name for name, _ in columns)
    return f"SELECT {names} FROM json_to_recordset(CAST(:page AS json)) AS page({definition})"


def _page(rows: Sequence[dict[str, Any]]) -> dict[str, str]:
    # Dates and datetimes become ISO 8601 text, which the recordset's column types parse back;
    # orjson encodes a page several times faster than the json module with a default hook.
    return {"page": orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode()}


def upsert_clocks(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    names = [name for name, _ in _CLOCK_COLUMNS]
    updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in names if n != "sblsh")
    conn.execute(
        text(
            f"INSERT INTO case_clocks ({', '.join(names)}) {_recordset(_CLOCK_COLUMNS)} "
            f"ON CONFLICT (sblsh) DO UPDATE SET {updates}"
        ),
        _page(rows),
    )


def insert_verdicts(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[tuple[int, str]]:
    """Insert verdict rows; (id, dedup_key) of the ones really created."""
    names = [name for name, _ in _VERDICT_COLUMNS]
    result = conn.execute(
        text(
            f"INSERT INTO verdicts ({', '.join(names)}) {_recordset(_VERDICT_COLUMNS)} "
            "ON CONFLICT DO NOTHING RETURNING id, dedup_key"
        ),
        _page(rows),
    )
    return [(int(r[0]), str(r[1])) for r in result]
