"""Storing verdicts: once per (case, rule, level), never updated; clocks cached per case.

New verdicts are inserted with ON CONFLICT DO NOTHING and RETURNING, so only rows really
created reach the listeners of :mod:`collector.engine.events`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from collector.clock import SHANGHAI
from collector.engine import bulk_pages
from collector.engine.events import VerdictRow, notify_new_verdicts
from collector.engine.sql_lists import in_list
from collector.engine.verdicts import Candidate
from collector.store.tables import verdict_withdrawals, verdicts
from collector.store.timestamps import as_utc


def dedup_key(sblsh: str, rule: str, level: str) -> str:
    return f"{sblsh}|{rule}|{level}"


@dataclass(frozen=True)
class StoredVerdict:
    id: int
    sblsh: str
    kind: str
    rule: str
    level: str
    issued_at: datetime
    withdrawn: bool


def existing(conn: Connection, sblshs: Iterable[str]) -> dict[str, list[StoredVerdict]]:
    found: dict[str, list[StoredVerdict]] = {}
    rows = conn.execute(
        select(
            verdicts.c.id,
            verdicts.c.sblsh,
            verdicts.c.kind,
            verdicts.c.rule,
            verdicts.c.level,
            verdicts.c.issued_at,
            verdict_withdrawals.c.verdict_id,
        )
        .select_from(
            verdicts.outerjoin(
                verdict_withdrawals, verdict_withdrawals.c.verdict_id == verdicts.c.id
            )
        )
        .where(in_list(conn, verdicts.c.sblsh, list(sblshs)))
    )
    for r in rows:
        issued = as_utc(r.issued_at)
        assert issued is not None
        found.setdefault(r.sblsh, []).append(
            StoredVerdict(r.id, r.sblsh, r.kind, r.rule, r.level, issued, r.verdict_id is not None)
        )
    return found


def yellow_issued_on(stored: list[StoredVerdict]) -> date | None:
    days = [
        v.issued_at.astimezone(SHANGHAI).date()
        for v in stored
        if v.kind == "yellow" and base_rule(v.rule) == "overdue" and not v.withdrawn
    ]
    return min(days) if days else None


def base_rule(rule: str) -> str:
    """The rule without its reissue suffix ("overdue#2" -> "overdue")."""
    return rule.split("#", 1)[0]


def to_issue(candidates: list[Candidate], prior: list[StoredVerdict]) -> list[Candidate]:
    """The candidates not stored yet. A withdrawn verdict does not block the same rule under
    the new basis: it is issued again as "<rule>#<n>", keeping (case, rule, level) unique."""
    active: set[tuple[str, str]] = set()
    withdrawn: dict[tuple[str, str], int] = {}
    for v in prior:
        key = (base_rule(v.rule), v.level)
        if v.withdrawn:
            withdrawn[key] = withdrawn.get(key, 0) + 1
        else:
            active.add(key)
    issue: list[Candidate] = []
    for c in candidates:
        if c.key in active:
            continue
        n = withdrawn.get(c.key, 0)
        issue.append(replace(c, rule=f"{c.rule}#{n + 1}") if n else c)
    return issue


def store_new(
    conn: Connection,
    pending: list[tuple[str, str, Candidate, dict[str, Any]]],
    *,
    issued_at: datetime,
    calendar_version: int,
    rule_version: str,
) -> list[VerdictRow]:
    """Insert (case, department, candidate, due basis) rows not stored yet; tell listeners."""
    if not pending:
        return []
    values: list[dict[str, Any]] = [
        {
            "sblsh": sblsh,
            "department": department,
            "kind": c.kind,
            "code": c.code,
            "rule": c.rule,
            "level": c.level,
            "dedup_key": dedup_key(sblsh, c.rule, c.level),
            "issued_at": issued_at,
            "due": due,
            "calendar_version": calendar_version,
            "rule_version": rule_version,
            "details": c.details,
        }
        for sblsh, department, c, due in pending
    ]
    by_key = {v["dedup_key"]: v for v in values}
    inserted = bulk_pages.insert_verdicts(conn, values)
    created: list[VerdictRow] = []
    for new_id, key in inserted:
        v = by_key[key]
        created.append(
            VerdictRow(
                id=new_id,
                case_id=v["sblsh"],
                department=v["department"],
                kind=v["kind"],
                code=v["code"],
                rule=v["rule"],
                level=v["level"],
                dedup_key=v["dedup_key"],
                issued_at=issued_at,
                due=v["due"],
                calendar_version=calendar_version,
                rule_version=rule_version,
                details=v["details"],
            )
        )
    created.sort(key=lambda r: r["id"])
    notify_new_verdicts(conn, created)
    return created


def save_clocks(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Upsert the latest clock row of each case (see :func:`page_eval.clock_row`)."""
    if rows:
        bulk_pages.upsert_clocks(conn, rows)
