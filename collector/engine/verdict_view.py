"""Verdicts as people and JSON read them: a yellow stays stored after a red, but shows as
superseded; a withdrawn verdict shows its withdrawal, a resolved one its resolution (all
derived, the rows never change)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from collector.store.tables import verdict_resolutions, verdict_withdrawals, verdicts
from collector.store.timestamps import as_utc


def list_verdicts(
    engine: Engine, *, case: str | None = None, department: str | None = None
) -> list[dict[str, Any]]:
    query = select(
        verdicts,
        verdict_withdrawals.c.withdrawn_at,
        verdict_withdrawals.c.reason,
        verdict_resolutions.c.resolved_at,
        verdict_resolutions.c.reason.label("resolution"),
    ).select_from(
        verdicts.outerjoin(
            verdict_withdrawals, verdict_withdrawals.c.verdict_id == verdicts.c.id
        ).outerjoin(verdict_resolutions, verdict_resolutions.c.verdict_id == verdicts.c.id)
    )
    if case is not None:
        query = query.where(verdicts.c.sblsh == case)
    if department is not None:
        query = query.where(verdicts.c.department == department)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(verdicts.c.id)).all()
    red_cases = {r.sblsh for r in rows if r.kind == "red" and r.withdrawn_at is None}
    listed: list[dict[str, Any]] = []
    for r in rows:
        issued = as_utc(r.issued_at)
        withdrawn = as_utc(r.withdrawn_at)
        listed.append(
            {
                "id": r.id,
                "case_id": r.sblsh,
                "department": r.department,
                "kind": r.kind,
                "code": r.code,
                "rule": r.rule,
                "level": r.level,
                "dedup_key": r.dedup_key,
                "issued_at": issued.isoformat() if issued else None,
                "due": r.due,
                "calendar_version": r.calendar_version,
                "rule_version": r.rule_version,
                "details": r.details,
                "stored": True,
                "withdrawn": withdrawn is not None,
                "withdrawn_at": withdrawn.isoformat() if withdrawn else None,
                "superseded": r.kind == "yellow" and r.sblsh in red_cases,
                # A department-level condition that ended (counts agree again).
                "resolved": r.resolved_at is not None,
                "resolved_at": as_utc(r.resolved_at).isoformat() if r.resolved_at else None,
                "resolution": r.resolution,
            }
        )
    return listed


def verdict_words(verdict: dict[str, Any]) -> str:
    """What a person reads under a verdict line besides its kind, in Chinese: the reason of an
    ``unevaluable`` anomaly, the message of a department-level verdict such as
    ``counts_disagree`` ("" for the others)."""
    details = verdict.get("details") or {}
    if verdict.get("code") == "unevaluable":
        return str(details.get("reason_zh", ""))
    return str(details.get("message_zh", ""))
