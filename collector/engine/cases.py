"""Assemble cases from the store: records_current grouped by SBLSH, with the catalogue item.

Bulk-friendly: :func:`load_catalogue` reads the catalogue once per sweep, :func:`load_cases`
reads the records of a page of cases in one query.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select, true

from collector.clock import ItemLimits
from collector.engine.sql_lists import in_list
from collector.engine.verdicts import CaseInput, CaseRecord
from collector.store.tables import case_clocks, engine_dirty_cases, records_current
from collector.store.timestamps import as_utc

#: Record types that belong to a case (the catalogue and operations do not).
CASE_TYPES = ("SB", "SL", "SPCL", "BZGZ", "BZSL", "TBCXSQ", "TBCXJG", "BJ", "LQDJ")


@dataclass(frozen=True)
class Catalogue:
    items: dict[tuple[str, str], Mapping[str, Any]]
    fees: dict[tuple[str, str], float]

    def item_of(self, department: str, sxbm: str) -> Mapping[str, Any] | None:
        return self.items.get((department, sxbm))

    def limits_of(self, department: str, sxbm: str) -> ItemLimits | None:
        item = self.item_of(department, sxbm)
        return ItemLimits.from_sx(item) if item is not None else None


def load_catalogue(conn: Connection) -> Catalogue:
    items: dict[tuple[str, str], Mapping[str, Any]] = {}
    fees: dict[tuple[str, str], float] = {}
    rows = conn.execute(
        select(records_current.c.record_type, records_current.c.body).where(
            records_current.c.record_type.in_(("SX", "SF"))
        )
    )
    for rtype, body in rows:
        key = (str(body.get("BMBM", "")), str(body.get("SXBM", "")))
        if rtype == "SX":
            items[key] = body
        else:
            amount = body.get("SFJE")
            if isinstance(amount, int | float) and not isinstance(amount, bool):
                fees[key] = fees.get(key, 0.0) + float(amount)
    return Catalogue(items, fees)


def load_cases(conn: Connection, sblshs: Iterable[str], catalogue: Catalogue) -> list[CaseInput]:
    """The cases named, each with its current records (cases with no records are left out)."""
    wanted = list(sblshs)
    grouped: dict[str, list[CaseRecord]] = {}
    departments: dict[str, str] = {}
    rows = conn.execute(
        select(
            records_current.c.sblsh,
            records_current.c.record_type,
            records_current.c.body,
            records_current.c.department,
            records_current.c.received_at,
        ).where(
            in_list(conn, records_current.c.sblsh, wanted),
            records_current.c.record_type.in_(CASE_TYPES),
        )
    )
    for sblsh, rtype, body, department, received_at in rows:
        grouped.setdefault(sblsh, []).append(CaseRecord(body, as_utc(received_at) or received_at))
        if rtype == "SL" or sblsh not in departments:
            departments[sblsh] = department
    cases: list[CaseInput] = []
    for sblsh in wanted:
        records = grouped.get(sblsh)
        if not records:
            continue
        department = departments[sblsh]
        sxbm = next((str(r.body.get("SXBM", "")) for r in records if r.body.get("SXBM")), "")
        cases.append(
            CaseInput(
                sblsh=sblsh,
                department=department,
                records=tuple(records),
                item=catalogue.item_of(department, sxbm),
                fee_standard=catalogue.fees.get((department, sxbm)),
            )
        )
    return cases


def open_case_page(
    conn: Connection,
    after: str,
    limit: int,
    *,
    today: date | None = None,
    calendar_version: int | None = None,
    rule_version: str | None = None,
    skip_departments: Collection[str] = (),
) -> list[str]:
    """The next ``limit`` case numbers after ``after`` that need evaluating: no stored clock,
    or open and (due for a recheck by ``today``, or evaluated on another calendar or rules
    version). Without ``today`` every open case. Cases of ``skip_departments`` are left out."""
    skipped = (
        records_current.c.department.not_in(list(skip_departments)) if skip_departments else true()
    )
    due = or_(case_clocks.c.sblsh.is_(None), case_clocks.c.state != "completed")
    if today is not None:
        due = or_(
            case_clocks.c.sblsh.is_(None),
            and_(
                case_clocks.c.state != "completed",
                or_(
                    case_clocks.c.recheck_on <= today,
                    case_clocks.c.calendar_version != calendar_version,
                    case_clocks.c.rule_version != rule_version,
                ),
            ),
        )
    query = (
        select(records_current.c.sblsh)
        .select_from(
            records_current.outerjoin(case_clocks, case_clocks.c.sblsh == records_current.c.sblsh)
        )
        .where(
            records_current.c.sblsh > after,
            records_current.c.record_type == "SL",
            due,
            skipped,
        )
        .order_by(records_current.c.sblsh)
        .limit(limit)
    )
    page = [r[0] for r in conn.execute(query)]
    if True:  # always: a full first page must not hide orphans sorted before its end
        # Orphans (no SL) are cases too: BJ without SL is an anomaly the sweep must see.
        orphan_page = [
            r[0]
            for r in conn.execute(
                select(records_current.c.sblsh)
                .select_from(
                    records_current.outerjoin(
                        case_clocks, case_clocks.c.sblsh == records_current.c.sblsh
                    )
                )
                .where(
                    records_current.c.sblsh > after,
                    records_current.c.record_type == "BJ",
                    case_clocks.c.sblsh.is_(None),
                    skipped,
                )
                .order_by(records_current.c.sblsh)
                .limit(limit)
            )
        ]
        page = sorted(set(page) | set(orphan_page))[:limit]
    return page


def dirty_cases(conn: Connection, since: datetime | None) -> tuple[list[str], datetime | None]:
    """Case numbers with a record received after ``since``, and the newest received time."""
    query = select(records_current.c.sblsh, records_current.c.received_at).where(
        records_current.c.sblsh.is_not(None),
        records_current.c.record_type.in_(CASE_TYPES),
    )
    if since is not None:
        query = query.where(records_current.c.received_at > since)
    found: set[str] = set()
    newest = since
    for sblsh, received_at in conn.execute(query):
        found.add(sblsh)
        received = as_utc(received_at)
        if received is not None and (newest is None or received > newest):
            newest = received
    return sorted(found), newest


def marked_cases(conn: Connection, skip_departments: Collection[str] = ()) -> dict[str, datetime]:
    """Cases the ingest marked for evaluation, with when each was (last) marked; the marks of
    ``skip_departments`` are left out (and stay)."""
    table = engine_dirty_cases
    query = select(table.c.sblsh, table.c.marked_at)
    if skip_departments:
        query = query.where(
            or_(table.c.department.is_(None), table.c.department.not_in(list(skip_departments)))
        )
    return {str(sblsh): marked_at for sblsh, marked_at in conn.execute(query)}


def clear_marks(conn: Connection, marks: dict[str, datetime]) -> None:
    """Clear the marks that were evaluated; a case marked again meanwhile keeps its mark."""
    table = engine_dirty_cases
    for sblsh, marked_at in marks.items():
        conn.execute(table.delete().where(table.c.sblsh == sblsh, table.c.marked_at <= marked_at))
