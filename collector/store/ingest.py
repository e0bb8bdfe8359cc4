"""The one path every record takes into the store, from a batch or from an import file.

:func:`store_record` checks the department, validates with exchange_spec, keeps invalid records
with their problems, stores every distinct version (business key, SJBBH) and moves the current
record forward only when the SJBBH is higher. For agents it also keeps the delivery
(agent, seq), so a resent seq is a duplicate and nothing is doubled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from exchange_spec import business_key, content_hash, event_time, validate_record, version

from .tables import deliveries, invalid_records, record_versions, records_current
from .upsert import insert_on_conflict

STATUSES = ("accepted", "duplicate", "superseded", "rejected")


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


def _keep_invalid(
    conn: Connection,
    source: Source,
    seq: int | None,
    record: Any,
    problems: list[dict[str, str]],
    now: datetime,
) -> int:
    result = conn.execute(
        insert(invalid_records)
        .values(
            agent_id=source.agent_id,
            source=source.name,
            seq=seq,
            department=source.department,
            body=record if isinstance(record, Mapping) else {"raw": repr(record)[:10000]},
            problems=problems,
            received_at=now,
        )
        .returning(invalid_records.c.id)
    )
    return int(result.scalar_one())


def _earlier_delivery(conn: Connection, source: Source, seq: int, digest: str) -> Outcome | None:
    row = conn.execute(
        select(deliveries.c.status, deliveries.c.content_hash, invalid_records.c.problems)
        .select_from(
            deliveries.outerjoin(invalid_records, deliveries.c.invalid_id == invalid_records.c.id)
        )
        .where(deliveries.c.agent_id == source.agent_id, deliveries.c.seq == seq)
    ).first()
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
    return [
        {k: v for k, v in p.as_dict().items() if k != "record_type"}
        for p in validate_record(record)
    ]


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
    if digest is None:
        digest = content_hash(record) if isinstance(record, Mapping) else ""
    if source.agent_id is not None and seq is not None:
        earlier = _earlier_delivery(conn, source, seq, digest)
        if earlier is not None:
            return earlier

    version_id: int | None = None
    invalid_id: int | None = None
    problems = _problems_of(record, source.department)
    status = "rejected"
    if not problems:
        status, version_id, problems = _store_version(conn, source, record, digest, now)
    if problems:
        invalid_id = _keep_invalid(conn, source, seq, record, problems, now)

    if source.agent_id is not None and seq is not None:
        stmt = insert_on_conflict(conn, deliveries).values(
            agent_id=source.agent_id,
            seq=seq,
            content_hash=digest,
            record_version_id=version_id,
            invalid_id=invalid_id,
            status=status,
            batch_id=batch_id,
        )
        kept = conn.execute(stmt.on_conflict_do_nothing().returning(deliveries.c.seq)).first()
        if kept is None:
            # A concurrent request delivered the same seq first.
            return Outcome(seq, "duplicate", tuple(problems))
    return Outcome(seq, status, tuple(problems))


def _store_version(
    conn: Connection, source: Source, record: Mapping[str, Any], digest: str, now: datetime
) -> tuple[str, int | None, list[dict[str, str]]]:
    key, sjbbh = business_key(record), version(record)
    values = {
        "business_key": key,
        "record_type": str(record.get("type")),
        "sblsh": str(record["SBLSH"]) if record.get("SBLSH") is not None else None,
        "sjbbh": sjbbh,
        "body": dict(record),
        "department": source.department,
        "event_time": event_time(record),
        "received_at": now,
    }
    inserted = conn.execute(
        insert_on_conflict(conn, record_versions)
        .values(content_hash=digest, source=source.name, **values)
        .on_conflict_do_nothing()
        .returning(record_versions.c.id)
    ).first()
    if inserted is None:
        held = conn.execute(
            select(record_versions.c.id, record_versions.c.content_hash).where(
                record_versions.c.business_key == key, record_versions.c.sjbbh == sjbbh
            )
        ).one()
        if held.content_hash == digest:
            return "duplicate", int(held.id), []
        return (
            "rejected",
            None,
            [
                problem(
                    "version_conflict",
                    "SJBBH",
                    f"{key} 的数据版本号 SJBBH={sjbbh} 已收到过不同内容；更正数据时请递增 SJBBH",
                    f"{key} version SJBBH={sjbbh} was already received with different "
                    "content; a correction must carry a higher SJBBH",
                )
            ],
        )
    version_id = int(inserted.id)
    upsert = insert_on_conflict(conn, records_current).values(version_id=version_id, **values)
    excluded = upsert.excluded
    moved = conn.execute(
        upsert.on_conflict_do_update(
            index_elements=[records_current.c.business_key],
            set_={
                "record_type": excluded.record_type,
                "sblsh": excluded.sblsh,
                "sjbbh": excluded.sjbbh,
                "version_id": excluded.version_id,
                "body": excluded.body,
                "department": excluded.department,
                "event_time": excluded.event_time,
                "received_at": excluded.received_at,
            },
            # Highest SJBBH wins: an older version arriving late is kept but not made current.
            where=records_current.c.sjbbh < excluded.sjbbh,
        ).returning(records_current.c.business_key)
    ).first()
    return ("accepted" if moved is not None else "superseded"), version_id, []
