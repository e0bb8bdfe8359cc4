"""Reassessment: after a calendar or rules change, or a record withdrawn by the bureau, propose
(never apply) withdrawing or keeping verdicts issued on the old basis; a supervisor accepts or
rejects each proposal.

Accepting a withdrawal writes a row in verdict_withdrawals; the verdict row never changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, or_, select, update

from collector.clock import WorkCalendar
from collector.engine import audit
from collector.engine.cases import Catalogue, load_cases
from collector.engine.errors import EngineError, NotFound
from collector.engine.rules_file import EngineRules
from collector.engine.verdict_store import base_rule, existing, yellow_issued_on
from collector.engine.verdicts import CaseContext, evaluate_case
from collector.engine.verdicts.evaluate import due_basis
from collector.store.tables import reassessment_proposals, verdict_withdrawals, verdicts
from collector.store.timestamps import as_utc, utc_now

_COMPARED = ("promised_deadline", "legal_deadline", "warning_on")

logger = logging.getLogger(__name__)


def propose(
    engine: Engine, calendar: WorkCalendar, rules: EngineRules, catalogue: Catalogue
) -> int:
    """Create pending proposals for verdicts whose basis changed; returns how many."""
    cal_version = int(calendar.version)
    with engine.begin() as conn:
        already = select(reassessment_proposals.c.verdict_id).where(
            reassessment_proposals.c.calendar_version == cal_version,
            reassessment_proposals.c.rule_version == rules.version,
            reassessment_proposals.c.cause == "",
        )
        rows = conn.execute(
            select(verdicts)
            .where(
                or_(
                    verdicts.c.calendar_version != cal_version,
                    verdicts.c.rule_version != rules.version,
                ),
                verdicts.c.sblsh != "",
                verdicts.c.id.not_in(select(verdict_withdrawals.c.verdict_id)),
                verdicts.c.id.not_in(already),
            )
            .order_by(verdicts.c.id)
        ).all()
        return _propose(conn, rows, calendar, rules, catalogue, cause="")


def propose_for_case(
    conn: Connection,
    sblsh: str,
    calendar: WorkCalendar,
    rules: EngineRules,
    catalogue: Catalogue,
    *,
    cause: str,
) -> int:
    """After a record of ``sblsh`` was withdrawn (``cause``): propose withdrawing (or keeping,
    on a changed basis) each of the case's verdicts, judged again on the records left. A case
    with no records left has nothing to stand on: every verdict is proposed for withdrawal.
    A verdict already proposed for the same cause (the record withdrawn, restored and withdrawn
    again) keeps that proposal."""
    proposed = select(reassessment_proposals.c.verdict_id).where(
        reassessment_proposals.c.cause == cause,
        reassessment_proposals.c.calendar_version == int(calendar.version),
        reassessment_proposals.c.rule_version == rules.version,
    )
    rows = conn.execute(
        select(verdicts)
        .where(
            verdicts.c.sblsh == sblsh,
            verdicts.c.id.not_in(select(verdict_withdrawals.c.verdict_id)),
            verdicts.c.id.not_in(proposed),
        )
        .order_by(verdicts.c.id)
    ).all()
    return _propose(conn, rows, calendar, rules, catalogue, cause=cause)


def _propose(
    conn: Connection,
    rows: Sequence[Any],
    calendar: WorkCalendar,
    rules: EngineRules,
    catalogue: Catalogue,
    *,
    cause: str,
) -> int:
    """Insert the proposals for ``rows`` (verdicts) whose basis changed; returns how many."""
    from collector.engine.page_eval import clock_of

    cal_version = int(calendar.version)
    created = 0
    by_case: dict[str, list[Any]] = {}
    for row in rows:
        by_case.setdefault(row.sblsh, []).append(row)
    cases = {c.sblsh: c for c in load_cases(conn, list(by_case), catalogue)}
    stored = existing(conn, list(by_case))
    now = utc_now()
    for sblsh, case_rows in by_case.items():
        case = cases.get(sblsh)
        if case is None and not cause:
            continue
        for row in case_rows:
            issued = as_utc(row.issued_at)
            assert issued is not None
            old_basis = dict(row.due or {})
            if case is None:  # every record of the case was withdrawn
                still_due, new_basis, changed = False, {}, True
            else:
                context = CaseContext(yellow_issued_on=yellow_issued_on(stored.get(sblsh, [])))
                try:
                    clock = clock_of(case, calendar, rules, issued)
                    due_now = {
                        c.key for c in evaluate_case(case, clock, calendar, rules, issued, context)
                    }
                except Exception as exc:  # noqa: BLE001 - the sweep marks the case unevaluable
                    logger.warning("case %s cannot be reassessed: %r", sblsh, exc)
                    break
                new_basis = due_basis(clock)
                still_due = (base_rule(row.rule), row.level) in due_now
                changed = any(old_basis.get(k) != new_basis.get(k) for k in _COMPARED)
            if still_due and not changed:
                continue
            conn.execute(
                reassessment_proposals.insert().values(
                    verdict_id=row.id,
                    calendar_version=cal_version,
                    rule_version=rules.version,
                    old_basis={
                        **old_basis,
                        "calendar_version": row.calendar_version,
                        "rule_version": row.rule_version,
                    },
                    new_basis={
                        **new_basis,
                        "calendar_version": cal_version,
                        "rule_version": rules.version,
                    },
                    action="keep" if still_due else "withdraw",
                    status="pending",
                    created_at=now,
                    cause=cause,
                )
            )
            created += 1
    return created


@dataclass(frozen=True)
class Proposal:
    id: int
    verdict_id: int
    sblsh: str
    kind: str
    rule: str
    action: str
    status: str
    old_basis: dict[str, Any]
    new_basis: dict[str, Any]
    created_at: datetime
    cause: str = ""  # "" for a calendar or rules change, "withdrawal:<id>" for a record

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "verdict_id": self.verdict_id,
            "case_id": self.sblsh,
            "kind": self.kind,
            "rule": self.rule,
            "action": self.action,
            "status": self.status,
            "old_basis": self.old_basis,
            "new_basis": self.new_basis,
            "created_at": self.created_at.isoformat(),
            "cause": self.cause,
        }


def list_proposals(engine: Engine, status: str | None = "pending") -> list[Proposal]:
    query = select(
        reassessment_proposals,
        verdicts.c.sblsh,
        verdicts.c.kind,
        verdicts.c.rule,
    ).join(verdicts, verdicts.c.id == reassessment_proposals.c.verdict_id)
    if status is not None:
        query = query.where(reassessment_proposals.c.status == status)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(reassessment_proposals.c.id)).all()
    return [
        Proposal(
            r.id,
            r.verdict_id,
            r.sblsh,
            r.kind,
            r.rule,
            r.action,
            r.status,
            r.old_basis,
            r.new_basis,
            r.created_at,
            r.cause,
        )
        for r in rows
    ]


def _pending(conn: Connection, proposal_id: int) -> Any:
    row = conn.execute(
        select(reassessment_proposals).where(reassessment_proposals.c.id == proposal_id)
    ).first()
    if row is None:
        raise NotFound(
            f"没有编号为 {proposal_id} 的复核建议",
            f"no reassessment proposal {proposal_id}",
            "list them with: esup-collector verdicts reassess",
        )
    if row.status != "pending":
        raise EngineError(
            f"复核建议 {proposal_id} 已处理（{row.status}）",
            f"reassessment proposal {proposal_id} is already {row.status}",
            "only pending proposals can be decided",
        )
    return row


def decide(engine: Engine, proposal_id: int, *, accept: bool, by: str, reason: str) -> None:
    """Accept or reject a pending proposal (audited); accepting a withdrawal withdraws."""
    if not accept and not reason.strip():
        raise EngineError(
            "驳回复核建议必须写明理由",
            "rejecting a proposal needs a reason",
            'pass --reason "..."',
        )
    now = utc_now()
    with engine.begin() as conn:
        row = _pending(conn, proposal_id)
        conn.execute(
            update(reassessment_proposals)
            .where(
                and_(
                    reassessment_proposals.c.id == proposal_id,
                    reassessment_proposals.c.status == "pending",
                )
            )
            .values(
                status="accepted" if accept else "rejected",
                decided_at=now,
                decided_by=by,
                reason=reason,
            )
        )
        already = conn.execute(
            select(verdict_withdrawals.c.verdict_id).where(
                verdict_withdrawals.c.verdict_id == row.verdict_id
            )
        ).first()
        # Two proposals (say a calendar change and a withdrawn record) may both say withdraw.
        if accept and row.action == "withdraw" and already is None:
            conn.execute(
                verdict_withdrawals.insert().values(
                    verdict_id=row.verdict_id,
                    proposal_id=proposal_id,
                    withdrawn_at=now,
                    decided_by=by,
                    reason=reason or "reassessment accepted",
                )
            )
        audit.append(
            conn,
            at=now,
            actor=by,
            action="reassess.accept" if accept else "reassess.reject",
            subject=f"verdict:{row.verdict_id}",
            details={"proposal": proposal_id, "action": row.action, "reason": reason},
        )
