"""Which department a case belongs to: known from the data, never from who spoke first alone.

A record's key is its type and case number (SBLSH), so without an owner one department's
agent could write into another department's case: move it, complete it, give it a fresh
deadline, or plant a case number so the real record fails. The department of a case is
decided once, when the collector first stores a record of it, in this order:

1. ``prefix``: the registered case-number prefix the SBLSH starts with
   (:mod:`.case_prefixes`, :mod:`exchange_spec.case_numbers`);
2. ``catalogue``: the department whose catalogue (SX) holds the record's item (SXBM); when
   several do, the one that delivered it first;
3. ``first``: where neither says, the department that delivered the case first.

A record of another department's case is refused (``foreign_case``) and kept as evidence by
the ingest. The department never changes through ingest; :func:`move_case` is the bureau's
audited action.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, func, select, update

from exchange_spec import CASE_TYPES
from exchange_spec.case_numbers import owner_by_prefix

from ..errors import OperatorError
from .case_prefixes import prefixes
from .dirty_marks import mark_cases
from .tables import case_owners, departments, record_versions, records_current
from .upsert import insert_on_conflict

#: How the department of a case was decided; "moved" by the bureau.
BASES = ("prefix", "catalogue", "first", "moved")
#: Values per IN list (SQLite allows 32,766 parameters per statement).
_CHUNK = 5000


@dataclass(frozen=True)
class Owner:
    department: str
    basis: str


@dataclass(frozen=True)
class Claim:
    """A department's records for one case in one batch: the item its first record names."""

    sblsh: str
    sxbm: str | None


def owners_of(conn: Connection, sblshs: list[str]) -> dict[str, Owner]:
    wanted = sorted(set(sblshs))
    found: dict[str, Owner] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = conn.execute(
            select(case_owners.c.sblsh, case_owners.c.department, case_owners.c.basis).where(
                case_owners.c.sblsh.in_(wanted[start : start + _CHUNK])
            )
        )
        found.update({str(s): Owner(str(d), str(b)) for s, d, b in rows})
    return found


def settle_owners(
    conn: Connection,
    department: str,
    claims: Mapping[str, Claim],
    *,
    own_items: set[str],
    now: datetime,
) -> dict[str, Owner]:
    """The owner of every claimed case (in the caller's transaction).

    Cases not seen before are decided here; when ``department`` wins one it is stored as its
    owner (a refused claim stores nothing: the rightful department's first record decides).
    ``own_items`` are SXBMs of the department's catalogue records in the same batch."""
    owners = owners_of(conn, list(claims))
    new = [claims[s] for s in sorted(claims) if s not in owners]
    if not new:
        return owners
    register = prefixes(conn)
    item_owners = _item_owners(conn, {c.sxbm for c in new if c.sxbm})
    won: dict[str, Owner] = {}
    for claim in new:
        decided = _decide(claim, department, register, item_owners, own_items)
        if decided.department == department:
            won[claim.sblsh] = decided
        else:
            owners[claim.sblsh] = decided
    if won:
        statement = insert_on_conflict(conn, case_owners).values(
            [
                {"sblsh": s, "department": o.department, "basis": o.basis, "decided_at": now}
                for s, o in sorted(won.items())
            ]
        )
        stored = set(
            conn.execute(
                statement.on_conflict_do_nothing().returning(case_owners.c.sblsh)
            ).scalars()
        )
        owners.update({s: o for s, o in won.items() if s in stored})
        # A concurrent batch of another department decided first: its owner stands.
        owners.update(owners_of(conn, [s for s in won if s not in stored]))
    return owners


def _decide(
    claim: Claim,
    department: str,
    register: Mapping[str, str],
    item_owners: Mapping[str, str],
    own_items: set[str],
) -> Owner:
    by_prefix = owner_by_prefix(claim.sblsh, register)
    if by_prefix is not None:
        return Owner(by_prefix, "prefix")
    if claim.sxbm and claim.sxbm in item_owners:
        return Owner(item_owners[claim.sxbm], "catalogue")
    if claim.sxbm and claim.sxbm in own_items:
        return Owner(department, "catalogue")
    return Owner(department, "first")


def _item_owners(conn: Connection, sxbms: set[str]) -> dict[str, str]:
    """SXBM -> the department whose catalogue holds the item; when several do, the one that
    delivered it first (copying another department's item into one's own catalogue does not
    bring its cases along). SX records are keyed ``SX|BMBM|SXBM``: the keys of every known
    department are looked up in the unique index of record_versions."""
    if not sxbms:
        return {}
    codes = [str(c) for c in conn.execute(select(departments.c.code)).scalars()]
    keys = [f"SX|{code}|{sxbm}" for code in codes for sxbm in sorted(sxbms)]
    first: dict[str, tuple[int, str]] = {}
    for start in range(0, len(keys), _CHUNK):
        rows = conn.execute(
            select(record_versions.c.business_key, func.min(record_versions.c.id))
            .where(record_versions.c.business_key.in_(keys[start : start + _CHUNK]))
            .group_by(record_versions.c.business_key)
        )
        for key, version_id in rows:
            _, owner, sxbm = str(key).split("|", 2)
            if sxbm not in first or int(version_id) < first[sxbm][0]:
                first[sxbm] = (int(version_id), owner)
    return {sxbm: owner for sxbm, (_, owner) in first.items()}


def move_case(conn: Connection, sblsh: str, to: str, *, now: datetime) -> str:
    """Give case ``sblsh`` to department ``to``; return the department it had. The case's
    current records count for ``to`` from now on (each version keeps who sent it)."""
    known = conn.execute(select(departments.c.code).where(departments.c.code == to)).first()
    if known is None:
        raise OperatorError(
            f"部门 {to} 未登记",
            f"department {to} is not known to the collector",
            "register it first: esup-collector departments add-prefix, or issue its agent a token",
        )
    held = owners_of(conn, [sblsh]).get(sblsh)
    if held is None:
        raise OperatorError(
            f"采集端没有办件 {sblsh}",
            f"the collector holds no case {sblsh}",
            "check the case number (esup-collector case show SBLSH)",
        )
    if held.department == to:
        raise OperatorError(
            f"办件 {sblsh} 已属于部门 {to}", f"case {sblsh} already belongs to department {to}"
        )
    conn.execute(
        update(case_owners)
        .where(case_owners.c.sblsh == sblsh)
        .values(department=to, basis="moved", decided_at=now)
    )
    conn.execute(
        update(records_current)
        .where(records_current.c.sblsh == sblsh, records_current.c.record_type.in_(CASE_TYPES))
        .values(department=to)
    )
    mark_cases(conn, {sblsh: to}, now)
    return held.department
