"""Spec records for engine tests, validated with exchange_spec so they stay valid, and a way
to store them with a chosen received time (the ingest path stamps 'now')."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from collector.clock import SHANGHAI
from collector.store.enrolment import ensure_department
from collector.store.tables import record_versions, records_current
from exchange_spec import business_key, content_hash, event_time, validate_record

DEPT = "11430700MB1534211G"
SXBM = "11430700MB1534211G300011111700001"


def _base(rtype: str, sblsh: str, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "spec": "1.0",
        "type": rtype,
        "SBLSH": sblsh,
        "SXBM": SXBM,
        "SXMC": "食品经营许可",
        "XZQHDM": "430700",
        "BMBM": DEPT,
        "BMMC": "常德市市场监督管理局",
        "SJBBH": 1,
    }
    record.update(extra)
    return checked(record)


def checked(record: dict[str, Any]) -> dict[str, Any]:
    problems = validate_record(record)
    assert not problems, [p.as_dict() for p in problems]
    return record


def sx(fdsx: int = 20, cnsx: int = 10, **extra: Any) -> dict[str, Any]:
    record = {
        "spec": "1.0",
        "type": "SX",
        "SXBM": SXBM,
        "SXMC": "食品经营许可",
        "XZQHDM": "430700",
        "BMBM": DEPT,
        "BMMC": "常德市市场监督管理局",
        "SXLX": "1",
        "FDSX": fdsx,
        "FDSXDW": "G",
        "CNSX": cnsx,
        "CNSXDW": "G",
        "SFSM": "0",
        "SJBBH": 1,
    }
    record.update(extra)
    return checked(record)


def sl(sblsh: str, slsj: str, gdblsx: int = 5, **extra: Any) -> dict[str, Any]:
    return _base(
        "SL",
        sblsh,
        SLZTDM="1",
        SLSJ=slsj,
        BLRXM="王芳",
        GDBLSX=gdblsx,
        GDBLSXDW="G",
        **extra,
    )


def bj(sblsh: str, bjsj: str, bjjgdm: str = "0", **extra: Any) -> dict[str, Any]:
    return _base("BJ", sblsh, BJJGDM=bjjgdm, BJSJ=bjsj, **extra)


def spcl(sblsh: str, step: int, code: str, spsj: str) -> dict[str, Any]:
    return _base("SPCL", sblsh, SPHJDM=code, SPBZH=step, SPRXM="陈立", SPYJ="同意", SPSJ=spsj)


def bzgz(sblsh: str, xh: int, when: str) -> dict[str, Any]:
    return _base("BZGZ", sblsh, XH=xh, BZGZSJ=when, BZGZYY="缺少材料", BZCLQD="营业执照")


def tbcxsq(sblsh: str, xh: int, kind: str, start: str, days: int) -> dict[str, Any]:
    return _base(
        "TBCXSQ",
        sblsh,
        XH=xh,
        TBCXZL=kind,
        TBCXKSRQ=start,
        TBCXPZR="孙海",
        TBCXQDLY="需要现场核查",
        TBCXSX=days,
        TBCXSXDW="G",
    )


def tbcxjg(sblsh: str, xh: int, end: str) -> dict[str, Any]:
    return _base("TBCXJG", sblsh, XH=xh, TBCXJG="结束", TBCXJSRQ=end)


def store(
    engine: Engine, records: list[dict[str, Any]], received_at: datetime | None = None
) -> None:
    """Store records as current versions; received by default one hour after their event
    (stored in UTC like the collector does: SQLite would keep wall-clock digits)."""
    with engine.begin() as conn:
        ensure_department(conn, DEPT)
        for record in records:
            when = event_time(record)
            received = received_at or (
                datetime.fromisoformat(when) + timedelta(hours=1)
                if when
                else datetime(2026, 1, 1, tzinfo=SHANGHAI)
            )
            version_id = conn.execute(
                record_versions.insert()
                .values(
                    business_key=business_key(record),
                    record_type=record["type"],
                    sblsh=record.get("SBLSH"),
                    sjbbh=record.get("SJBBH", 1),
                    content_hash=content_hash(record),
                    body=record,
                    department=DEPT,
                    event_time=when,
                    received_at=received.astimezone(UTC),
                    source="test",
                )
                .returning(record_versions.c.id)
            ).scalar_one()
            conn.execute(
                records_current.insert().values(
                    business_key=business_key(record),
                    record_type=record["type"],
                    sblsh=record.get("SBLSH"),
                    sjbbh=record.get("SJBBH", 1),
                    version_id=version_id,
                    body=record,
                    department=DEPT,
                    event_time=when,
                    received_at=received.astimezone(UTC),
                )
            )


def at(text: str) -> datetime:
    """A Shanghai wall-clock time, e.g. at('2026-10-08 10:00')."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)
