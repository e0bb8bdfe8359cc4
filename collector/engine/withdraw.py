"""Withdraw a stored record (or undo that) and have its case judged again, audited.

The record stops counting (:mod:`collector.store.withdrawals`), the withdrawal goes into the
audit chain, and every card of the case is judged again on the records left: a card that
would not have been issued without the withdrawn record is proposed for withdrawal (never
withdrawn silently; a supervisor decides with `esup-collector verdicts reassess`). The case is
marked for the next dirty sweep, which brings its clock up to date.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from collector.clock import WorkCalendar
from collector.engine import audit, reassess
from collector.engine.cases import load_catalogue
from collector.engine.rules_file import EngineRules
from collector.errors import OperatorError
from collector.store.timestamps import utc_now
from collector.store.withdrawals import Withdrawal, restore, withdraw


@dataclass(frozen=True)
class WithdrawResult:
    withdrawal: Withdrawal
    proposals: int  # reassessment proposals made for the case's cards


def withdraw_record(
    engine: Engine,
    business_key: str,
    *,
    sjbbh: int | None,
    by: str,
    reason: str,
    calendar: WorkCalendar,
    rules: EngineRules,
) -> WithdrawResult:
    now = utc_now()
    with engine.begin() as conn:
        done = withdraw(conn, business_key, sjbbh=sjbbh, by=by, reason=reason, now=now)
        audit.append(
            conn,
            at=now,
            actor=by,
            action="record.withdraw",
            subject=f"record:{business_key}",
            details={
                "sblsh": done.sblsh,
                "department": done.department,
                "sjbbh": list(done.withdrawn),
                "version_ids": list(done.version_ids),
                "now_current": done.current,
                "reason": reason,
            },
        )
        proposals = 0
        if done.sblsh:
            proposals = reassess.propose_for_case(
                conn,
                done.sblsh,
                calendar,
                rules,
                load_catalogue(conn),
                cause=f"withdrawal:{done.version_ids[0]}",
            )
    return WithdrawResult(done, proposals)


def restore_record(
    engine: Engine, business_key: str, *, sjbbh: int | None, by: str, reason: str
) -> Withdrawal:
    """Undo a withdrawal (audited); the case is marked, so the next dirty sweep judges it with
    the record again. Proposals already made stay for the supervisor to decide."""
    if not reason.strip():
        raise OperatorError(
            "恢复记录必须写明理由", "restoring a record needs a reason", 'pass --reason "..."'
        )
    now = utc_now()
    with engine.begin() as conn:
        done = restore(conn, business_key, sjbbh=sjbbh, now=now)
        audit.append(
            conn,
            at=now,
            actor=by,
            action="record.restore",
            subject=f"record:{business_key}",
            details={
                "sblsh": done.sblsh,
                "sjbbh": list(done.withdrawn),
                "now_current": done.current,
                "reason": reason,
            },
        )
    return done
