"""Reconciliation verdicts: a department's counts disagree with what the bureau holds.

Each RECON an agent sends is compared at ingest (:mod:`collector.store.recon_reports`). Here
the sweep turns the comparisons into verdicts for the department's data, like the
data-silence alarm (no case: ``sblsh`` ""): one open ``counts_disagree`` anomaly per
(department, record type, day), with rule ``counts_disagree:<department>:<type>:<day>``
(``#<n>`` when the same day disagrees again after a resolution). When a later RECON agrees,
the verdict is resolved: a row in ``verdict_resolutions``; the verdict itself never changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from collector.clock import WorkCalendar
from collector.engine.rules_file import EngineRules
from collector.engine.verdict_store import dedup_key, store_new
from collector.engine.verdicts import Candidate
from collector.store.tables import recon_reports, verdict_resolutions, verdicts
from collector.store.timestamps import as_utc
from exchange_spec.wording import type_zh

CODE = "counts_disagree"


def describe(details: dict[str, Any]) -> tuple[str, str]:
    """The disagreement in words (Chinese, English) for the bureau and department IT."""
    rtype, day = details["record_type"], details["day"]
    agent, held = details["agent_count"], details["held_count"]
    diff = agent - held
    if diff > 0:
        zh_diff, en_diff = f"监察中心少 {diff} 条", f"{diff} fewer at the bureau"
    elif diff < 0:
        zh_diff, en_diff = f"监察中心多 {-diff} 条", f"{-diff} more at the bureau"
    else:
        zh_diff, en_diff = "条数相同但记录不同", "same number, different records"
    zh = (
        f"对账不符：{type_zh(rtype)}（{rtype}）{day}，部门业务库 {agent} 条，"
        f"监察中心 {held} 条，{zh_diff}"
    )
    en = (
        f"counts disagree: {rtype} on {day}, {agent} in the department's database, "
        f"{held} held by the bureau: {en_diff}"
    )
    if details.get("quarantined"):
        n = details["quarantined"]
        zh += f"；另有 {n} 行在采集端隔离（映射无效，未发送）"
        en += f"; {n} more row(s) quarantined at the agent (invalid, not sent)"
    return zh, en


def _details(r: Any) -> dict[str, Any]:
    counted = as_utc(r.counted_at)
    details: dict[str, Any] = {
        "record_type": r.record_type,
        "day": r.day,
        "source_table": r.source_table,
        "agent_count": int(r.agent_count),
        "held_count": int(r.held_count),
        "difference": int(r.agent_count) - int(r.held_count),
        "quarantined": int(r.quarantined),
        "agent_digest": r.agent_digest,
        "held_digest": r.held_digest,
        "counted_at": counted.isoformat() if counted else None,
    }
    details["message_zh"], details["message_en"] = describe(details)
    return details


def _rule(r: Any) -> str:
    rule = f"{CODE}:{r.department}:{r.record_type}:{r.day}"
    return f"{rule}#{r.verdicts_issued + 1}" if r.verdicts_issued else rule


def _update(r: Any) -> Any:
    """An UPDATE of the report ``r`` (department, record type, day)."""
    return update(recon_reports).where(
        recon_reports.c.department == r.department,
        recon_reports.c.record_type == r.record_type,
        recon_reports.c.day == r.day,
    )


def _issue(conn: Connection, calendar: WorkCalendar, rules: EngineRules, at: datetime) -> int:
    rows = conn.execute(
        select(recon_reports).where(
            recon_reports.c.agrees.is_(False), recon_reports.c.open_verdict_id.is_(None)
        )
    ).all()
    if not rows:
        return 0
    pending: list[tuple[str, str, Candidate, dict[str, object]]] = [
        ("", r.department, Candidate("anomaly", CODE, _rule(r), "anomaly", _details(r)), {})
        for r in rows
    ]
    created = store_new(
        conn,
        pending,
        issued_at=at,
        calendar_version=int(calendar.version),
        rule_version=rules.version,
    )
    # Link each report to its verdict, also one stored by a sweep that ran concurrently.
    keys = {dedup_key("", _rule(r), "anomaly"): r for r in rows}
    found = conn.execute(
        select(verdicts.c.id, verdicts.c.dedup_key).where(verdicts.c.dedup_key.in_(list(keys)))
    )
    for verdict_id, key in found:
        r = keys[key]
        conn.execute(
            _update(r).values(open_verdict_id=verdict_id, verdicts_issued=r.verdicts_issued + 1)
        )
    return len(created)


def _resolve(conn: Connection, at: datetime) -> int:
    rows = conn.execute(
        select(recon_reports).where(
            recon_reports.c.agrees.is_(True), recon_reports.c.open_verdict_id.is_not(None)
        )
    ).all()
    for r in rows:
        details = _details(r)
        conn.execute(
            verdict_resolutions.insert().values(
                verdict_id=r.open_verdict_id,
                resolved_at=at,
                reason=(
                    f"已对平：{r.day} 的{type_zh(r.record_type)}记录双方均为 {r.held_count} 条 / "
                    f"counts agree again: {r.held_count} {r.record_type} on {r.day} on both sides"
                ),
                details=details,
            )
        )
        conn.execute(_update(r).values(open_verdict_id=None))
    return len(rows)


def judge(engine: Engine, calendar: WorkCalendar, rules: EngineRules, at: datetime) -> int:
    """Issue a verdict for each new disagreement and resolve those that agree again; the
    number of verdicts issued."""
    with engine.begin() as conn:
        issued = _issue(conn, calendar, rules, at)
        _resolve(conn, at)
    return issued
