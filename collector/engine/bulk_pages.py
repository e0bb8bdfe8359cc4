"""Bulk writes of a sweep page: one INSERT ... SELECT over the page sent as one JSON document.

SQLAlchemy's multi-row VALUES puts a placeholder per value in the statement (13,000 for a
page of 1,000 clocks) and the driver handles each in Python; arrays of text were no better on
PostgreSQL, since psycopg escapes every quote of every JSON element in Python, and SQLite's
executemany binds row by row. One JSON document per page is a single string parameter the
database parses in C: ``json_to_recordset`` on PostgreSQL, ``json_each`` on SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, DateTime, text

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


def _sqlite_page(
    conn: Connection, columns: Sequence[tuple[str, str]], rows: Sequence[dict[str, Any]]
) -> dict[str, str]:
    # Timestamps in the text SQLAlchemy's own DateTime stores on SQLite (the ORM reads them
    # back); dates become ISO text and booleans 0/1, as SQLAlchemy stores those too.
    stamps = [name for name, kind in columns if kind == "timestamptz"]
    if stamps:
        as_text = DateTime(timezone=True).dialect_impl(conn.dialect).bind_processor(conn.dialect)
        assert as_text is not None
        rows = [{**row, **{n: as_text(row[n]) for n in stamps}} for row in rows]
    return _page(rows)


def _sqlite_select(columns: Sequence[tuple[str, str]]) -> str:
    picks = ", ".join(f"json_extract(value, '$.{name}')" for name, _ in columns)
    # WHERE true: SQLite's parser needs it before ON CONFLICT in INSERT ... SELECT.
    return f"SELECT {picks} FROM json_each(:page) WHERE true"


def upsert_clocks(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    names = [name for name, _ in _CLOCK_COLUMNS]
    updates = ", ".join(f"{n} = excluded.{n}" for n in names if n != "sblsh")
    if conn.dialect.name == "postgresql":
        select, page = _recordset(_CLOCK_COLUMNS), _page(rows)
    else:
        select, page = _sqlite_select(_CLOCK_COLUMNS), _sqlite_page(conn, _CLOCK_COLUMNS, rows)
    conn.execute(
        text(
            f"INSERT INTO case_clocks ({', '.join(names)}) {select} "
            f"ON CONFLICT (sblsh) DO UPDATE SET {updates}"
        ),
        page,
    )


def insert_verdicts(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[tuple[int, str]]:
    """Insert verdict rows; (id, dedup_key) of the ones really created."""
    names = [name for name, _ in _VERDICT_COLUMNS]
    if conn.dialect.name == "postgresql":
        select, page = _recordset(_VERDICT_COLUMNS), _page(rows)
    else:
        select, page = _sqlite_select(_VERDICT_COLUMNS), _sqlite_page(conn, _VERDICT_COLUMNS, rows)
    result = conn.execute(
        text(
            f"INSERT INTO verdicts ({', '.join(names)}) {select} "
            "ON CONFLICT DO NOTHING RETURNING id, dedup_key"
        ),
        page,
    )
    return [(int(r[0]), str(r[1])) for r in result]
