"""The one path every record takes into the store, from a batch or from an import file.

:class:`RecordWriter` (and :func:`store_record` for a single record) checks the department,
validates with exchange_spec, keeps invalid records with their problems, stores every distinct
version (business key, SJBBH) and moves the current record forward only when the SJBBH is
higher. For agents it also keeps the delivery (agent, seq), so a resent seq is a duplicate and
nothing is doubled. Statements are built once per dialect and run with bound parameters: a
batch of a thousand records spends its time in the database, not in building SQL.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from exchange_spec import business_key, content_hash, event_time, validate_record, version

from .tables import deliveries, invalid_records, record_versions, records_current

STATUSES = ("accepted", "duplicate", "superseded", "rejected")
_PREFETCH_CHUNK = 500  # bound the IN list (SQLite's parameter limit)


@dataclass(frozen=True)
class Source:
    """Where records come from: an enrolled agent, or an import file."""

    name: str  # the agent id, or "import:<file name>"
    department: str  # records must carry this BMBM
    agent_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What happened to one record. ``problems`` explain a rejection (code, path, zh, en)."""

    seq: int | None
    status: str
    problems: tuple[dict[str, str], ...] = ()


def problem(code: str, path: str, message_zh: str, message_en: str) -> dict[str, str]:
    return {"code": code, "path": path, "message_zh": message_zh, "message_en": message_en}


@dataclass(frozen=True)
class _Statements:
    keep_invalid: Any
    keep_version: Any
    held_version: Any
    move_current: Any
    keep_delivery: Any
    earlier: Any


@functools.cache
def _statements(dialect: str) -> _Statements:
    """Build the ingest statements once per dialect (values are bound at execution)."""
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = dialect_insert(records_current)
    excluded = upsert.excluded
    moved = [
        "record_type",
        "sblsh",
        "sjbbh",
        "version_id",
        "body",
        "department",
        "event_time",
        "received_at",
    ]
    return _Statements(
        keep_invalid=insert(invalid_records).returning(invalid_records.c.id),
        keep_version=dialect_insert(record_versions)
        .on_conflict_do_nothing()
        .returning(record_versions.c.id),
        held_version=select(record_versions.c.id, record_versions.c.content_hash).where(
            record_versions.c.business_key == bindparam("k"),
            record_versions.c.sjbbh == bindparam("v"),
        ),
        move_current=upsert.on_conflict_do_update(
            index_elements=[records_current.c.business_key],
            set_={name: excluded[name] for name in moved},
            # Highest SJBBH wins: an older version arriving late is kept but not made current.
            where=records_current.c.sjbbh < excluded.sjbbh,
        ).returning(records_current.c.business_key),
        keep_delivery=dialect_insert(deliveries)
        .on_conflict_do_nothing()
        .returning(deliveries.c.seq),
        earlier=select(
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
            deliveries.c.seq.in_(bindparam("seqs", expanding=True)),
        ),
    )


def _problems_of(record: Any, department: str) -> list[dict[str, str]]:
    if not isinstance(record, Mapping):
        return [
            problem("schema.type", "", "记录必须是 JSON 对象", "a record must be a JSON object")
        ]
    bmbm = record.get("BMBM")
    if bmbm != department:
        return [
            problem(
                "wrong_department",
                "BMBM",
                f"记录的部门编码 BMBM={bmbm!r} 与本采集端所属部门 {department} 不符，未保存",
                f"the record's department BMBM={bmbm!r} is not this source's department "
                f"{department}; it was not stored",
            )
        ]
    problems = [
        {k: v for k, v in p.as_dict().items() if k != "record_type"}
        for p in validate_record(record)
    ]
    return problems or _unstorable(record)


#: Largest SJBBH a record can carry: RFC 8785 hashes integers only up to 2**53 - 1.
MAX_SJBBH = 2**53 - 1


def _unstorable(record: Mapping[str, Any]) -> list[dict[str, str]]:
    """What the spec allows but a database cannot hold; refused here so it never poisons a batch."""
    if version(record) > MAX_SJBBH:
        return [
            problem(
                "schema.range",
                "SJBBH",
                f"数据版本号 SJBBH 超出范围（最大 {MAX_SJBBH}）",
                f"SJBBH is out of range (at most {MAX_SJBBH})",
            )
        ]
    if "\x00" in business_key(record) + (event_time(record) or ""):
        return [
            problem(
                "schema.nul",
                "",
                "记录的标识或时间字段含有 NUL 字符（\\u0000），请在源系统中清理",
                "an identifying or time field contains a NUL character (\\u0000); "
                "clean it in the source system",
            )
        ]
    return []


class RecordWriter:
    """Stores records of one source inside the caller's transaction."""

    def __init__(
        self, conn: Connection, source: Source, *, now: datetime, batch_id: int | None = None
    ) -> None:
        self.conn = conn
        self.source = source
        self.now = now
        self.batch_id = batch_id
        self._sql = _statements(conn.dialect.name)
        self._earlier: dict[int, Any] = {}
        self._prefetched = False

    def prefetch(self, seqs: Iterable[int]) -> None:
        """Read the deliveries already held for ``seqs`` in a few queries instead of one each."""
        if self.source.agent_id is None:
            return
        wanted = sorted(set(seqs))
        for start in range(0, len(wanted), _PREFETCH_CHUNK):
            rows = self.conn.execute(
                self._sql.earlier,
                {"agent": self.source.agent_id, "seqs": wanted[start : start + _PREFETCH_CHUNK]},
            )
            self._earlier.update({int(r.seq): r for r in rows})
        self._prefetched = True

    def _earlier_delivery(self, seq: int, digest: str) -> Outcome | None:
        if not self._prefetched:
            self.prefetch([seq])
            self._prefetched = False
        row = self._earlier.get(seq)
        if row is None:
            return None
        problems: tuple[dict[str, str], ...] = tuple(row.problems or ())
        if row.content_hash != digest:
            problems = (
                *problems,
                problem(
                    "seq_reused",
                    "",
                    f"序号 {seq} 已用于另一条内容不同的记录，本次内容未保存",
                    f"seq {seq} was already delivered with different content; this one is not kept",
                ),
            )
        return Outcome(seq, "duplicate", problems)

    def store(self, seq: int | None, record: Any, digest: str | None = None) -> Outcome:
        """Validate and store one record; return its outcome."""
        unhashable: list[dict[str, str]] = []
        if digest is None:
            try:
                digest = content_hash(record) if isinstance(record, Mapping) else ""
            except ValueError as exc:  # NaN, Infinity or an integer beyond 2**53
                digest, unhashable = (
                    "",
                    [
                        problem(
                            "schema.number",
                            "",
                            "记录含有 JSON 无法准确表示的数字（NaN、Infinity 或超过 2^53 的整数）",
                            f"the record holds a number JSON cannot carry exactly ({exc})",
                        )
                    ],
                )
        agent_id = self.source.agent_id
        if agent_id is not None and seq is not None:
            earlier = self._earlier_delivery(seq, digest)
            if earlier is not None:
                return earlier

        version_id: int | None = None
        invalid_id: int | None = None
        problems = unhashable or _problems_of(record, self.source.department)
        status = "rejected"
        if not problems:
            status, version_id, problems = self._store_version(record, digest)
        if problems:
            invalid_id = self._keep_invalid(seq, record, problems, as_text=bool(unhashable))

        if agent_id is not None and seq is not None:
            kept = self.conn.execute(
                self._sql.keep_delivery,
                {
                    "agent_id": agent_id,
                    "seq": seq,
                    "content_hash": digest,
                    "record_version_id": version_id,
                    "invalid_id": invalid_id,
                    "status": status,
                    "batch_id": self.batch_id,
                },
            ).first()
            if kept is None:
                # A concurrent request delivered the same seq first.
                return Outcome(seq, "duplicate", tuple(problems))
        return Outcome(seq, status, tuple(problems))

    def _keep_invalid(
        self, seq: int | None, record: Any, problems: list[dict[str, str]], *, as_text: bool
    ) -> int:
        # A body that is not a JSON object, or holds NaN/Infinity, is kept as text: the
        # database's JSON type would refuse it and fail the whole batch.
        plain = isinstance(record, Mapping) and not as_text
        body = record if plain else {"raw": repr(record)[:10000]}
        result = self.conn.execute(
            self._sql.keep_invalid,
            {
                "agent_id": self.source.agent_id,
                "source": self.source.name,
                "seq": seq,
                "department": self.source.department,
                "body": body,
                "problems": problems,
                "received_at": self.now,
            },
        )
        return int(result.scalar_one())

    def _store_version(
        self, record: Mapping[str, Any], digest: str
    ) -> tuple[str, int | None, list[dict[str, str]]]:
        key, sjbbh = business_key(record), version(record)
        values = {
            "business_key": key,
            "record_type": str(record.get("type")),
            "sblsh": str(record["SBLSH"]) if record.get("SBLSH") is not None else None,
            "sjbbh": sjbbh,
            "body": dict(record),
            "department": self.source.department,
            "event_time": event_time(record),
            "received_at": self.now,
        }
        inserted = self.conn.execute(
            self._sql.keep_version, {**values, "content_hash": digest, "source": self.source.name}
        ).first()
        if inserted is None:
            held = self.conn.execute(self._sql.held_version, {"k": key, "v": sjbbh}).one()
            if held.content_hash == digest:
                return "duplicate", int(held.id), []
            return (
                "rejected",
                None,
                [
                    problem(
                        "version_conflict",
                        "SJBBH",
                        f"{key} 的数据版本号 SJBBH={sjbbh} 已收到过不同内容；"
                        "更正数据时请递增 SJBBH",
                        f"{key} version SJBBH={sjbbh} was already received with different "
                        "content; a correction must carry a higher SJBBH",
                    )
                ],
            )
        version_id = int(inserted.id)
        moved = self.conn.execute(
            self._sql.move_current, {**values, "version_id": version_id}
        ).first()
        return ("accepted" if moved is not None else "superseded"), version_id, []


def store_record(
    conn: Connection,
    source: Source,
    seq: int | None,
    record: Any,
    *,
    now: datetime,
    batch_id: int | None = None,
    digest: str | None = None,
) -> Outcome:
    """Validate and store one record inside the caller's transaction; return its outcome."""
    return RecordWriter(conn, source, now=now, batch_id=batch_id).store(seq, record, digest)
