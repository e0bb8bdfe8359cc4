"""Withdrawing a stored record: the bureau's answer to a record that must not count.

A withdrawn version stays in ``record_versions`` (evidence: who sent what, when) and gets a
row in ``record_withdrawals``; ``records_current`` then holds the highest version of the key
that is not withdrawn, or nothing. The case is marked for the engine's next dirty sweep. The
caller writes the audit entry and the reassessment proposals in the same transaction
(:mod:`collector.engine.withdraw`).

A withdrawn version keeps its SJBBH: the department resends the record with a higher SJBBH.
A withdrawal can be undone (:func:`restore`): the record is quarantined, not destroyed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, literal, select

from ..errors import OperatorError
from .case_owners import owners_of
from .dirty_marks import mark_cases
from .ingest_sql import CURRENT_COLUMNS
from .tables import case_clocks, record_versions, record_withdrawals, records_current


@dataclass(frozen=True)
class Withdrawal:
    business_key: str
    sblsh: str | None
    department: str
    withdrawn: tuple[int, ...]  # SJBBH of the versions withdrawn now
    version_ids: tuple[int, ...]  # their ids in record_versions
    current: int | None  # SJBBH now current (None: the record no longer counts at all)
    case_left: bool  # the case still has records


def keys_of_case(conn: Connection, sblsh: str, record_type: str) -> list[str]:
    """Business keys of the current records of one type in a case (several for steps)."""
    rows = conn.execute(
        select(records_current.c.business_key)
        .where(records_current.c.sblsh == sblsh, records_current.c.record_type == record_type)
        .order_by(records_current.c.business_key)
    )
    return [str(k) for k in rows.scalars()]


def withdraw(
    conn: Connection,
    business_key: str,
    *,
    sjbbh: int | None,
    by: str,
    reason: str,
    now: datetime,
) -> Withdrawal:
    """Withdraw every version of ``business_key`` not withdrawn yet, or only ``sjbbh``."""
    if not reason.strip():
        raise OperatorError(
            "撤回记录必须写明理由", "withdrawing a record needs a reason", 'pass --reason "..."'
        )
    versions = _versions(conn, business_key, withdrawn=False)
    if not versions:
        raise OperatorError(
            f"没有可撤回的记录 {business_key}（不存在或已全部撤回）",
            f"no record {business_key} to withdraw (none held, or all withdrawn already)",
            "check the case number, the record type and --key",
        )
    chosen = _chosen(business_key, versions, sjbbh)
    sblsh = versions[0].sblsh
    conn.execute(
        insert(record_withdrawals),
        [
            {
                "version_id": v.id,
                "business_key": business_key,
                "sblsh": sblsh,
                "withdrawn_at": now,
                "withdrawn_by": by,
                "reason": reason,
            }
            for v in chosen
        ],
    )
    return _settle(conn, business_key, versions, chosen, now)


def restore(conn: Connection, business_key: str, *, sjbbh: int | None, now: datetime) -> Withdrawal:
    """Undo the withdrawal of every withdrawn version of ``business_key``, or only ``sjbbh``;
    ``Withdrawal.withdrawn`` then lists the versions restored."""
    versions = _versions(conn, business_key, withdrawn=True)
    if not versions:
        raise OperatorError(
            f"{business_key} 没有已撤回的数据版本",
            f"{business_key} has no withdrawn version",
            "see the case's records with: esup-collector case show SBLSH",
        )
    chosen = _chosen(business_key, versions, sjbbh)
    ids = [v.id for v in chosen]
    conn.execute(delete(record_withdrawals).where(record_withdrawals.c.version_id.in_(ids)))
    return _settle(conn, business_key, versions, chosen, now)


def _versions(conn: Connection, business_key: str, *, withdrawn: bool) -> list[Any]:
    done = select(record_withdrawals.c.version_id)
    return list(
        conn.execute(
            select(
                record_versions.c.id,
                record_versions.c.sjbbh,
                record_versions.c.sblsh,
                record_versions.c.department,
            )
            .where(
                record_versions.c.business_key == business_key,
                record_versions.c.id.in_(done) if withdrawn else record_versions.c.id.not_in(done),
            )
            .order_by(record_versions.c.sjbbh)
        ).all()
    )


def _chosen(business_key: str, versions: list[Any], sjbbh: int | None) -> list[Any]:
    chosen = [v for v in versions if sjbbh is None or int(v.sjbbh) == sjbbh]
    if not chosen:
        held = ", ".join(str(v.sjbbh) for v in versions)
        raise OperatorError(
            f"{business_key} 没有数据版本 SJBBH={sjbbh}（可选：{held}）",
            f"{business_key} has no version SJBBH={sjbbh} to act on (there are: {held})",
        )
    return chosen


def _settle(
    conn: Connection, business_key: str, versions: list[Any], chosen: list[Any], now: datetime
) -> Withdrawal:
    """Make the highest version of the key not withdrawn current (or none), drop the cached
    clock of a case left with no records, and mark the case for the engine."""
    sblsh = versions[0].sblsh
    owner = owners_of(conn, [sblsh]).get(sblsh) if sblsh else None
    department = owner.department if owner else str(versions[-1].department)
    counting = _versions(conn, business_key, withdrawn=False)
    conn.execute(delete(records_current).where(records_current.c.business_key == business_key))
    if counting:
        columns = [c for c in CURRENT_COLUMNS if c != "department"]
        conn.execute(
            insert(records_current).from_select(
                [*columns, "department", "version_id"],
                select(
                    *(record_versions.c[c] for c in columns),
                    literal(department),
                    record_versions.c.id,
                ).where(record_versions.c.id == counting[-1].id),
            )
        )
    case_left = True
    if sblsh:
        case_left = (
            conn.execute(
                select(records_current.c.business_key).where(records_current.c.sblsh == sblsh)
            ).first()
            is not None
        )
        if not case_left:  # the cached clock of a case with no records left is gone
            conn.execute(delete(case_clocks).where(case_clocks.c.sblsh == sblsh))
        mark_cases(conn, {sblsh: department}, now)
    return Withdrawal(
        business_key,
        sblsh,
        department,
        tuple(int(v.sjbbh) for v in chosen),
        tuple(int(v.id) for v in chosen),
        int(counting[-1].sjbbh) if counting else None,
        case_left,
    )
