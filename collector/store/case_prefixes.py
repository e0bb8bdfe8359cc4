"""The bureau's register of case-number prefixes: which department issues which case numbers.

A case number is region + department part + serial (:mod:`exchange_spec.case_numbers`); the
prefix (region + department part) tells whose case a number is before the case exists. The
ingest reads this register to decide the department of a case it sees for the first time.
Every change is written to the audit chain by the caller's command.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from exchange_spec.case_numbers import overlapping, prefix_problem

from ..errors import OperatorError
from .enrolment import ensure_department
from .tables import case_number_prefixes, case_owners, departments

#: A department code (BMBM) as the spec's ``code`` format allows it.
_CODE_RE = re.compile(r"^[0-9A-Za-z._-]{1,64}$")


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    prefixes: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "name": self.name, "case_number_prefixes": list(self.prefixes)}


def prefixes(conn: Connection) -> dict[str, str]:
    """Every registered prefix -> its department."""
    rows = conn.execute(select(case_number_prefixes.c.prefix, case_number_prefixes.c.department))
    return {str(p): str(d) for p, d in rows}


def list_departments(conn: Connection) -> list[Department]:
    found: dict[str, list[str]] = {}
    for prefix, department in sorted(prefixes(conn).items()):
        found.setdefault(department, []).append(prefix)
    rows = conn.execute(select(departments.c.code, departments.c.name).order_by(departments.c.code))
    return [Department(str(c), str(n or ""), tuple(found.get(str(c), ()))) for c, n in rows]


def add_prefix(
    conn: Connection, department: str, prefix: str, *, name: str, by: str, now: datetime
) -> int:
    """Register ``prefix`` for ``department``; return how many cases already held with numbers
    of this prefix belong to another department (they are not moved: see `case move`)."""
    if not _CODE_RE.fullmatch(department):
        raise OperatorError(
            f"部门编码 {department!r} 格式不对（1 至 64 位字母、数字或 . _ -）",
            f"department code {department!r} is malformed (1 to 64 letters, digits or . _ -)",
            "use the department's BMBM exactly as its records carry it",
        )
    problem = prefix_problem(prefix)
    if problem is not None:
        raise OperatorError(*problem, "e.g. 4307020301 (region 430702, department part 0301)")
    held = prefixes(conn)
    if held.get(prefix) == department:
        raise OperatorError(
            f"前缀 {prefix} 已登记给部门 {department}",
            f"prefix {prefix} is already registered for department {department}",
        )
    clashes = [p for p in overlapping(prefix, held) if held[p] != department]
    if clashes:
        listed = ", ".join(f"{p}（{held[p]}）" for p in clashes)
        raise OperatorError(
            f"前缀 {prefix} 与其他部门的前缀重叠：{listed}",
            f"prefix {prefix} overlaps other departments' prefixes: "
            + ", ".join(f"{p} ({held[p]})" for p in clashes),
            "a case number must match one department only; remove the wrong prefix first "
            "(esup-collector departments remove-prefix)",
        )
    ensure_department(conn, department, name)
    conn.execute(
        insert(case_number_prefixes).values(
            prefix=prefix, department=department, registered_at=now, registered_by=by
        )
    )
    return int(
        conn.execute(
            select(func.count())
            .select_from(case_owners)
            .where(
                case_owners.c.sblsh.startswith(prefix, autoescape=True),
                case_owners.c.department != department,
            )
        ).scalar_one()
    )


def remove_prefix(conn: Connection, department: str, prefix: str) -> None:
    removed = conn.execute(
        delete(case_number_prefixes).where(
            case_number_prefixes.c.prefix == prefix,
            case_number_prefixes.c.department == department,
        )
    ).rowcount
    if not removed:
        raise OperatorError(
            f"部门 {department} 没有登记前缀 {prefix}",
            f"department {department} has no registered prefix {prefix}",
            "see them with: esup-collector departments list",
        )
