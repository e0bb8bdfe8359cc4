"""The statements a batch of records is stored with, built once per dialect.

Each statement handles a whole batch, so a batch of a thousand records takes a handful of
round trips instead of several per record. The two big inserts (versions, deliveries) pass
their rows as ONE JSON document that the database unpacks itself (PostgreSQL
``json_to_recordset``, SQLite ``json_each``): a multi-row VALUES list with ten thousand
placeholders costs more to build and to parse (psycopg re-parses long queries on every call)
than the database spends storing the rows. IN lists are one parameter too (:func:`_one_of`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    String,
    TextClause,
    any_,
    bindparam,
    cast,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY

from .tables import deliveries, invalid_records, record_versions, records_current

#: Columns records_current copies from the version that becomes current.
CURRENT_COLUMNS = (
    "business_key",
    "record_type",
    "sblsh",
    "sjbbh",
    "body",
    "department",
    "event_time",
    "received_at",
)


_VERSIONS_PG = """
INSERT INTO record_versions (business_key, record_type, sblsh, sjbbh, content_hash, body,
                             department, event_time, received_at, source)
SELECT r.business_key, r.record_type, r.sblsh, r.sjbbh, r.content_hash, CAST(r.body AS json),
       :department, r.event_time, :received_at, :source
FROM json_to_recordset(CAST(:rows AS json)) AS r(business_key text, record_type text,
     sblsh text, sjbbh bigint, content_hash text, body text, event_time text)
ON CONFLICT DO NOTHING
RETURNING id, business_key, sjbbh
"""

# json_extract, not ->>, so SQLite 3.35 (RETURNING) is enough. "WHERE true": SQLite needs a
# WHERE in INSERT ... SELECT ... ON CONFLICT to parse it.
_VERSIONS_SQLITE = """
INSERT INTO record_versions (business_key, record_type, sblsh, sjbbh, content_hash, body,
                             department, event_time, received_at, source)
SELECT json_extract(r.value, '$.business_key'), json_extract(r.value, '$.record_type'),
       json_extract(r.value, '$.sblsh'), json_extract(r.value, '$.sjbbh'),
       json_extract(r.value, '$.content_hash'), json_extract(r.value, '$.body'),
       :department, json_extract(r.value, '$.event_time'), :received_at, :source
FROM json_each(:rows) AS r WHERE true
ON CONFLICT DO NOTHING
RETURNING id, business_key, sjbbh
"""

_DELIVERIES_PG = """
INSERT INTO deliveries (agent_id, seq, content_hash, record_version_id, invalid_id, status,
                        batch_id)
SELECT :agent_id, r.seq, r.content_hash, r.record_version_id, r.invalid_id, r.status, :batch_id
FROM json_to_recordset(CAST(:rows AS json)) AS r(seq bigint, content_hash text,
     record_version_id bigint, invalid_id bigint, status text)
ON CONFLICT DO NOTHING
RETURNING seq
"""

_DELIVERIES_SQLITE = """
INSERT INTO deliveries (agent_id, seq, content_hash, record_version_id, invalid_id, status,
                        batch_id)
SELECT :agent_id, json_extract(r.value, '$.seq'), json_extract(r.value, '$.content_hash'),
       json_extract(r.value, '$.record_version_id'), json_extract(r.value, '$.invalid_id'),
       json_extract(r.value, '$.status'), :batch_id
FROM json_each(:rows) AS r WHERE true
ON CONFLICT DO NOTHING
RETURNING seq
"""


def _one_of(column: Any, name: str, pg: bool) -> Any:
    """``column`` is one of the list bound as ``name``, as ONE parameter whatever its length
    (an array on PostgreSQL, JSON text on SQLite; :attr:`IngestStatements.pack` makes it)."""
    if pg:
        return column == any_(cast(bindparam(name, type_=ARRAY(column.type)), ARRAY(column.type)))
    values = func.json_each(bindparam(name, type_=String())).table_valued("value")
    return column.in_(select(values.c.value))


def _json_rows_insert(sql: str) -> TextClause:
    """``sql`` with its scalar parameters typed as the columns they fill (SQLite keeps times
    as text in SQLAlchemy's format; only the column type writes that format)."""
    types: dict[str, Any] = {
        "rows": String(),
        "received_at": DateTime(timezone=True),
        "batch_id": BigInteger(),
    }
    return text(sql).bindparams(
        *(bindparam(name, type_=kind) for name, kind in types.items() if f":{name}" in sql)
    )


@dataclass(frozen=True)
class IngestStatements:
    earlier_deliveries: Any  # seqs of one agent already delivered, with the problems kept
    insert_versions: Any  # rows in JSON; ON CONFLICT DO NOTHING, RETURNING what was inserted
    versions_of_keys: Any  # every version held for some business keys
    current_versions: Any  # SJBBH of the current record of some business keys
    move_current: Any  # copy versions (by id) into records_current where SJBBH is higher
    insert_invalid: Any  # RETURNING ids in parameter order
    insert_deliveries: Any  # rows in JSON; ON CONFLICT DO NOTHING, RETURNING the seqs inserted
    pack: Callable[[list[Any]], Any]  # a list as the one parameter of an IN list (_one_of)


@functools.cache
def statements(dialect: str) -> IngestStatements:
    pg = dialect == "postgresql"
    dialect_insert = postgresql.insert if pg else sqlite.insert
    upsert = dialect_insert(records_current).from_select(
        [*CURRENT_COLUMNS, "version_id"],
        select(*(record_versions.c[name] for name in CURRENT_COLUMNS), record_versions.c.id)
        # SQLite needs a WHERE in INSERT ... SELECT ... ON CONFLICT; this one is real anyway.
        .where(_one_of(record_versions.c.id, "ids", pg))
        # Rows in key order, as the versions were inserted: concurrent batches lock the same
        # current records in the same order and queue instead of deadlocking (PostgreSQL).
        .order_by(record_versions.c.business_key),
    )
    excluded = upsert.excluded
    return IngestStatements(
        earlier_deliveries=select(
            deliveries.c.seq,
            deliveries.c.status,
            deliveries.c.content_hash,
            invalid_records.c.problems,
        )
        .select_from(
            deliveries.outerjoin(invalid_records, deliveries.c.invalid_id == invalid_records.c.id)
        )
        .where(
            deliveries.c.agent_id == bindparam("agent"),
            _one_of(deliveries.c.seq, "seqs", pg),
        ),
        insert_versions=_json_rows_insert(_VERSIONS_PG if pg else _VERSIONS_SQLITE),
        versions_of_keys=select(
            record_versions.c.id,
            record_versions.c.business_key,
            record_versions.c.sjbbh,
            record_versions.c.content_hash,
        ).where(_one_of(record_versions.c.business_key, "keys", pg)),
        current_versions=select(records_current.c.business_key, records_current.c.sjbbh).where(
            _one_of(records_current.c.business_key, "keys", pg)
        ),
        move_current=upsert.on_conflict_do_update(
            index_elements=[records_current.c.business_key],
            set_={name: excluded[name] for name in (*CURRENT_COLUMNS[1:], "version_id")},
            # Highest SJBBH wins: an older version arriving late is kept but not made current.
            where=records_current.c.sjbbh < excluded.sjbbh,
        ).returning(records_current.c.business_key),
        insert_invalid=insert(invalid_records).returning(
            invalid_records.c.id, sort_by_parameter_order=True
        ),
        insert_deliveries=_json_rows_insert(_DELIVERIES_PG if pg else _DELIVERIES_SQLITE),
        pack=list if pg else _json_list,
    )


def _json_list(values: list[Any]) -> str:
    return json.dumps(values, ensure_ascii=False)
