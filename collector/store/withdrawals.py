"""Withdrawing a stored record: the bureau's answer to a record that must not count.

A withdrawn version stays in ``record_versions`` (evidence: who sent what, when) and gets a
row in ``record_withdrawals``; ``records_current`` then holds the highest version of the key
that is not withdrawn, or nothing. The case is marked for the engine's next dirty sweep. The
caller writes the audit entry and the reassessment proposals in the same transaction
(:mod:`collector.engine.withdraw`).

A withdrawn version keeps its SJBBH: the department resends the record with a higher SJBBH.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
    done = select(record_withdrawals.c.version_id)
    versions = conn.execute(
        select(
            record_versions.c.id,
            record_versions.c.sjbbh,
            record_versions.c.sblsh,
            record_versions.c.department,
        )
        .where(record_versions.c.business_key == business_key, record_versions.c.id.not_in(done))
        .order_by(record_versions.c.sjbbh)
    ).all()
    if not versions:
        raise OperatorError(
            f"没有可撤回的记录 {business_key}（不存在或已全部撤回）",
            f"no record {business_key} to withdraw (none held, or all withdrawn already)",
            "check the case number, the record type and --key",
        )
    chosen = [v for v in versions if sjbbh is None or int(v.sjbbh) == sjbbh]
    if not chosen:
        held = ", ".join(str(v.sjbbh) for v in versions)
        raise OperatorError(
            f"{business_key} 没有数据版本 SJBBH={sjbbh}（现有：{held}）",
            f"{business_key} has no version SJBBH={sjbbh} (held: {held})",
        )
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
    left = [v for v in versions if v not in chosen]
    owner = owners_of(conn, [sblsh]).get(sblsh) if sblsh else None
    department = owner.department if owner else str(versions[-1].department)
    conn.execute(delete(records_current).where(records_current.c.business_key == business_key))
    if left:
        columns = [c for c in CURRENT_COLUMNS if c != "department"]
        conn.execute(
            insert(records_current).from_select(
                [*columns, "department", "version_id"],
                select(
                    *(record_versions.c[c] for c in columns),
                    literal(department),
                    record_versions.c.id,
                ).where(record_versions.c.id == left[-1].id),
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
        int(left[-1].sjbbh) if left else None,
        case_left,
    )
