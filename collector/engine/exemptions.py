"""Exemptions: a supervisor's decision that a rule does not apply to a case until a date.

An exemption suppresses matching verdicts (by rule, kind or anomaly code; "*" for all) while
today (Asia/Shanghai) is on or before ``expires_on``. Creating one is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from collector.engine import audit
from collector.engine.errors import EngineError
from collector.store.tables import exemptions
from collector.store.timestamps import utc_now


@dataclass(frozen=True)
class Exemption:
    id: int
    sblsh: str
    rule: str
    reason: str
    approver: str
    expires_on: date
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case_id": self.sblsh,
            "rule": self.rule,
            "reason": self.reason,
            "approver": self.approver,
            "expires_on": self.expires_on.isoformat(),
            "created_at": self.created_at.isoformat(),
        }


def add(
    engine: Engine,
    *,
    sblsh: str,
    rule: str,
    reason: str,
    approver: str,
    expires_on: date,
    actor: str,
    today: date,
) -> int:
    if not reason.strip() or not approver.strip():
        raise EngineError(
            "豁免必须写明理由和批准人",
            "an exemption needs a reason and an approver",
            'pass --reason "..." --approver "name"',
        )
    if expires_on < today:
        raise EngineError(
            f"豁免的到期日 {expires_on} 已过",
            f"the exemption's expiry {expires_on} is already past",
            "give a date on or after today with --expires YYYY-MM-DD",
        )
    now = utc_now()
    with engine.begin() as conn:
        new_id = conn.execute(
            exemptions.insert()
            .values(
                sblsh=sblsh,
                rule=rule,
                reason=reason,
                approver=approver,
                expires_on=expires_on,
                created_at=now,
                created_by=actor,
            )
            .returning(exemptions.c.id)
        ).scalar_one()
        audit.append(
            conn,
            at=now,
            actor=actor,
            action="exemption.add",
            subject=f"case:{sblsh}",
            details={
                "exemption": new_id,
                "rule": rule,
                "reason": reason,
                "approver": approver,
                "expires_on": expires_on.isoformat(),
            },
        )
    return int(new_id)


def list_all(engine: Engine) -> list[Exemption]:
    with engine.connect() as conn:
        rows = conn.execute(select(exemptions).order_by(exemptions.c.id)).all()
    return [
        Exemption(r.id, r.sblsh, r.rule, r.reason, r.approver, r.expires_on, r.created_at)
        for r in rows
    ]


def valid_on(conn: Connection, today: date) -> dict[str, frozenset[str]]:
    """case -> rules exempted on ``today``."""
    found: dict[str, set[str]] = {}
    for sblsh, rule in conn.execute(
        select(exemptions.c.sblsh, exemptions.c.rule).where(exemptions.c.expires_on >= today)
    ):
        found.setdefault(sblsh, set()).add(rule)
    return {k: frozenset(v) for k, v in found.items()}
