"""``column IN (list)`` that stays cheap for pages of thousands of case numbers.

On PostgreSQL a page is sent as one array parameter (``= ANY(:ids)``): psycopg otherwise
parses a statement with thousands of placeholders on every page, which cost more than the
query. SQLite keeps an ordinary IN list.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, Text, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY


def in_list(
    conn: Connection, column: ColumnElement[str], values: Sequence[str]
) -> ColumnElement[bool]:
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(Text)))
    return column.in_(list(values))
