"""Supervision matters: one per card (yellow or red verdict), with an append-only history.

A matter is opened by :func:`open_matters_for` (subscribed to the engine's new verdicts),
numbered ``督〔YEAR〕第NNNN号`` in one sequence per year (the year of the Asia/Shanghai day it
opened), and due a written reply (回告) ``reply_workdays`` working days after that day.

States: ``open`` (waiting for the reply), ``escalated`` (waiting, at a higher level),
``replied`` (the department answered; the bureau decides), ``closed``. Levels: ``officer``
(承办人) -> ``leader`` (部门负责人) -> ``bureau`` (监察局). A yellow matter opens at the
officer, a red one at the department's leader (整改建议书 asks the leader to hold people
accountable). A red card on a case whose yellow matter is not closed supersedes it: the red
matter links to it, the yellow one becomes ``escalated`` and stops escalating on its own, and
closing the red matter closes it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from collector.clock import SHANGHAI, WorkCalendar
from collector.store.tables import supervision_events, supervision_matters
from collector.store.timestamps import as_utc

from .errors import MatterNotFound, MatterStateError, SupervisionError

CARD_KINDS = ("yellow", "red")
STATES = ("open", "escalated", "replied", "closed")
LEVELS = ("officer", "leader", "bureau")
LEVEL_NAMES_ZH = {"officer": "承办人", "leader": "部门负责人", "bureau": "监察局"}
STATE_NAMES_ZH = {"open": "待回告", "escalated": "已升级", "replied": "已回告", "closed": "已办结"}
TITLES = {"yellow": "督办通知书", "red": "整改建议书"}
START_LEVEL = {"yellow": "officer", "red": "leader"}
#: Event kinds of the history (append-only).
EVENT_KINDS = (
    "opened",
    "notice_generated",
    "reply_received",
    "closed",
    "escalated",
    "appealed",
    "superseded",
)
SYSTEM_ACTOR = "system"
_WAITING = ("open", "escalated")


@dataclass(frozen=True)
class MatterPolicy:
    """How matters are numbered and how long a department has to reply."""

    reply_workdays: int = 5
    number_prefix: str = "督"

    def __post_init__(self) -> None:
        if not 1 <= self.reply_workdays <= 60:
            raise SupervisionError(
                f"回告期限应为 1 至 60 个工作日，现为 {self.reply_workdays}",
                f"the reply window must be 1..60 working days, got {self.reply_workdays}",
                "set supervision_reply_workdays in the collector settings (default 5)",
            )


@dataclass(frozen=True)
class Matter:
    """One supervision matter as stored."""

    id: int
    number: str
    verdict_id: str
    department: str
    case_id: str
    card: str
    rule: str
    state: str
    level: str
    opened_at: datetime
    due_reply_by: date
    due_provisional: bool
    reply_workdays: int
    calendar_version: str
    rule_version: str
    verdict: dict[str, Any]
    supersedes_id: int | None
    superseded_by_id: int | None
    appeal_pending: bool
    updated_at: datetime

    @property
    def title(self) -> str:
        """督办通知书 for a yellow card, 整改建议书 for a red one."""
        return TITLES[self.card]

    @property
    def opened_on(self) -> date:
        """The Asia/Shanghai day the matter opened (reply deadlines count from it)."""
        return self.opened_at.astimezone(SHANGHAI).date()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "number": self.number,
            "title": self.title,
            "verdict_id": self.verdict_id,
            "department": self.department,
            "case_id": self.case_id,
            "card": self.card,
            "rule": self.rule,
            "state": self.state,
            "level": self.level,
            "opened_at": self.opened_at.isoformat(),
            "due_reply_by": self.due_reply_by.isoformat(),
            "due_provisional": self.due_provisional,
            "reply_workdays": self.reply_workdays,
            "calendar_version": self.calendar_version,
            "rule_version": self.rule_version,
            "supersedes_id": self.supersedes_id,
            "superseded_by_id": self.superseded_by_id,
            "appeal_pending": self.appeal_pending,
        }


@dataclass(frozen=True)
class MatterEvent:
    """One line of a matter's history."""

    kind: str
    actor: str
    at: datetime
    note: str
    data: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "actor": self.actor,
            "at": self.at.isoformat(),
            "note": self.note,
            "data": self.data,
        }


def format_number(prefix: str, year: int, seq: int) -> str:
    """``督〔2026〕第0001号``: the matter's (and its notice's) document number."""
    return f"{prefix}〔{year}〕第{seq:04d}号"


def utc_time(value: Any, where: str) -> datetime:
    """An aware time converted to UTC (SQLite drops offsets, so only UTC is stored)."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise SupervisionError(
            f"{where} 必须是带时区的时间，现为 {value!r}",
            f"{where} must be a time with a time zone, got {value!r}",
            "pass an aware datetime (UTC), e.g. datetime.now(UTC)",
        )
    return value.astimezone(UTC)


def _matter(row: Any) -> Matter:
    return Matter(
        id=int(row.id),
        number=row.number,
        verdict_id=row.verdict_id,
        department=row.department,
        case_id=row.case_id,
        card=row.card,
        rule=row.rule,
        state=row.state,
        level=row.level,
        opened_at=as_utc(row.opened_at),  # type: ignore[arg-type]
        due_reply_by=row.due_reply_by,
        due_provisional=bool(row.due_provisional),
        reply_workdays=int(row.reply_workdays),
        calendar_version=row.calendar_version,
        rule_version=row.rule_version,
        verdict=dict(row.verdict),
        supersedes_id=row.supersedes_id,
        superseded_by_id=row.superseded_by_id,
        appeal_pending=bool(row.appeal_pending),
        updated_at=as_utc(row.updated_at),  # type: ignore[arg-type]
    )


def add_event(
    conn: Connection,
    matter_id: int,
    kind: str,
    *,
    actor: str,
    at: datetime,
    note: str = "",
    data: Mapping[str, Any] | None = None,
) -> None:
    """Append one event to a matter's history (never updated or deleted)."""
    if kind not in EVENT_KINDS:
        raise SupervisionError(
            f"未知的督办事件类型 {kind!r}",
            f"unknown supervision event kind {kind!r}",
            f"use one of {', '.join(EVENT_KINDS)}",
        )
    conn.execute(
        insert(supervision_events).values(
            matter_id=matter_id,
            kind=kind,
            actor=actor,
            at=utc_time(at, "event time"),
            note=note,
            data=dict(data) if data is not None else None,
        )
    )


def _snapshot(verdict: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict as JSON (its datetimes as ISO text), kept with the matter."""
    return dict(json.loads(json.dumps(dict(verdict), default=_json_default, ensure_ascii=False)))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _by_verdict(conn: Connection, verdict_id: str) -> Matter | None:
    row = conn.execute(
        select(supervision_matters).where(supervision_matters.c.verdict_id == verdict_id)
    ).first()
    return _matter(row) if row is not None else None


def open_matters_for(
    conn: Connection,
    verdicts: Iterable[Mapping[str, Any]],
    at: datetime | None = None,
    *,
    calendar: WorkCalendar,
    policy: MatterPolicy | None = None,
) -> list[Matter]:
    """Open one matter per yellow or red verdict; other kinds are ignored.

    Idempotent: a verdict that already has a matter opens nothing. ``at`` is when the matter
    opens (default: the verdict's ``issued_at``). Returns the matters opened now.
    """
    policy = policy or MatterPolicy()
    opened: list[Matter] = []
    for verdict in verdicts:
        if verdict.get("kind") not in CARD_KINDS:
            continue
        matter = _open_one(conn, verdict, at, calendar, policy)
        if matter is not None:
            opened.append(matter)
    return opened


def _open_one(
    conn: Connection,
    verdict: Mapping[str, Any],
    at: datetime | None,
    calendar: WorkCalendar,
    policy: MatterPolicy,
) -> Matter | None:
    missing = [k for k in ("id", "case_id", "department", "kind") if verdict.get(k) in (None, "")]
    if missing:
        raise SupervisionError(
            f"裁定缺少字段：{', '.join(missing)}",
            f"the verdict lacks {', '.join(missing)}: {dict(verdict)!r}",
            "pass verdict rows as collector.engine.events sends them",
        )
    verdict_id = str(verdict["id"])
    if _by_verdict(conn, verdict_id) is not None:
        return None
    opened_at = utc_time(at if at is not None else verdict.get("issued_at"), "opened_at")
    opened_on = opened_at.astimezone(SHANGHAI).date()
    card = str(verdict["kind"])
    due = calendar.add_workdays(opened_on, policy.reply_workdays)
    values = {
        "verdict_id": verdict_id,
        "dedup_key": str(verdict.get("dedup_key") or ""),
        "department": str(verdict["department"]),
        "case_id": str(verdict["case_id"]),
        "card": card,
        "rule": str(verdict.get("rule") or ""),
        "state": "open",
        "level": START_LEVEL[card],
        "opened_at": opened_at,
        "due_reply_by": due.date,
        "due_provisional": due.provisional,
        "reply_workdays": policy.reply_workdays,
        "calendar_version": str(verdict.get("calendar_version") or calendar.version),
        "rule_version": str(verdict.get("rule_version") or ""),
        "verdict": _snapshot(verdict),
        "updated_at": opened_at,
        "year": opened_on.year,
    }
    # The number is max+1 of the year; a concurrent collector taking the same number (or the
    # same verdict) fails the unique constraint inside a savepoint, and we look again.
    for _attempt in range(20):
        seq = (
            conn.execute(
                select(func.max(supervision_matters.c.seq)).where(
                    supervision_matters.c.year == opened_on.year
                )
            ).scalar()
            or 0
        ) + 1
        try:
            with conn.begin_nested():
                matter_id = conn.execute(
                    insert(supervision_matters)
                    .values(
                        **values,
                        seq=seq,
                        number=format_number(policy.number_prefix, opened_on.year, seq),
                    )
                    .returning(supervision_matters.c.id)
                ).scalar_one()
        except IntegrityError:
            if _by_verdict(conn, verdict_id) is not None:
                return None
            continue
        break
    else:
        raise SupervisionError(
            "多次尝试后仍无法分配督办文号",
            "could not allocate a matter number after 20 attempts",
            "another collector process is opening matters at the same moment; run again",
        )
    add_event(
        conn,
        matter_id,
        "opened",
        actor=SYSTEM_ACTOR,
        at=opened_at,
        note=f"{TITLES[card]}：{verdict.get('rule') or card}",
        data={"verdict_id": verdict_id, "due_reply_by": due.date.isoformat()},
    )
    if card == "red":
        _supersede_yellow(conn, matter_id, str(verdict["case_id"]), opened_at)
    return get_matter(conn, matter_id)


def _supersede_yellow(conn: Connection, red_id: int, case_id: str, at: datetime) -> None:
    m = supervision_matters.c
    yellow = conn.execute(
        select(m.id, m.number)
        .where(
            m.case_id == case_id,
            m.card == "yellow",
            m.state != "closed",
            m.superseded_by_id.is_(None),
        )
        .order_by(m.id.desc())
    ).first()
    if yellow is None:
        return
    red_number = conn.execute(select(m.number).where(m.id == red_id)).scalar_one()
    conn.execute(
        update(supervision_matters)
        .where(m.id == yellow.id)
        .values(state="escalated", superseded_by_id=red_id, updated_at=at)
    )
    conn.execute(
        update(supervision_matters)
        .where(m.id == red_id)
        .values(supersedes_id=yellow.id, updated_at=at)
    )
    add_event(
        conn,
        int(yellow.id),
        "superseded",
        actor=SYSTEM_ACTOR,
        at=at,
        note=f"红牌，升级为整改建议书 {red_number}",
        data={"superseded_by": red_number},
    )


def get_matter(conn: Connection, ref: int | str) -> Matter:
    """A matter by id or by number (``督〔2026〕第0001号``)."""
    m = supervision_matters.c
    text = str(ref).strip()
    condition = m.id == int(text) if text.isdigit() else m.number == text
    row = conn.execute(select(supervision_matters).where(condition)).first()
    if row is None:
        raise MatterNotFound(
            f"没有编号或序号为 {text} 的督办事项",
            f"no supervision matter has the number or id {text}",
            "list them with: esup-collector supervision list",
        )
    return _matter(row)


def list_matters(
    conn: Connection, *, state: str | None = None, department: str | None = None
) -> list[Matter]:
    """Matters, oldest first, optionally of one state and/or department."""
    m = supervision_matters.c
    query = select(supervision_matters).order_by(m.id)
    if state is not None:
        if state not in STATES:
            raise SupervisionError(
                f"未知的督办状态 {state!r}",
                f"unknown matter state {state!r}",
                f"use one of {', '.join(STATES)}",
            )
        query = query.where(m.state == state)
    if department is not None:
        query = query.where(m.department == department)
    return [_matter(row) for row in conn.execute(query)]


def matter_events(conn: Connection, matter_id: int) -> list[MatterEvent]:
    """The matter's history, in the order it happened."""
    e = supervision_events.c
    rows = conn.execute(
        select(supervision_events).where(e.matter_id == matter_id).order_by(e.id)
    ).all()
    return [
        MatterEvent(
            row.kind,
            row.actor,
            as_utc(row.at),  # type: ignore[arg-type]
            row.note,
            dict(row.data) if row.data is not None else None,
        )
        for row in rows
    ]


def _not_closed(matter: Matter, action_zh: str, action_en: str) -> None:
    if matter.state == "closed":
        raise MatterStateError(
            f"督办事项 {matter.number} 已办结，不能{action_zh}",
            f"matter {matter.number} is closed; it cannot be {action_en}",
            "open matters are listed by: esup-collector supervision list --state open",
        )


def _require_text(value: str, what_zh: str, what_en: str) -> str:
    text = value.strip()
    if not text:
        raise SupervisionError(
            f"{what_zh}不能为空",
            f"{what_en} is empty",
            f"give the {what_en} (e.g. --by 张科长 --text '...')",
        )
    return text


def record_reply(conn: Connection, ref: int | str, *, text: str, by: str, at: datetime) -> Matter:
    """Record the department's written reply (回告); escalation stops, the bureau decides."""
    at = utc_time(at, "time")
    matter = get_matter(conn, ref)
    _not_closed(matter, "回告", "replied to")
    body = _require_text(text, "回告内容", "reply text")
    replier = _require_text(by, "回告人", "replier")
    conn.execute(
        update(supervision_matters)
        .where(supervision_matters.c.id == matter.id)
        .values(state="replied", updated_at=utc_time(at, "reply time"))
    )
    add_event(conn, matter.id, "reply_received", actor=replier, at=at, note=body)
    return get_matter(conn, matter.id)


def close_matter(conn: Connection, ref: int | str, *, by: str, note: str, at: datetime) -> Matter:
    """The bureau closes the matter (and the yellow matter a red one superseded)."""
    at = utc_time(at, "time")
    matter = get_matter(conn, ref)
    _not_closed(matter, "再次办结", "closed again")
    closer = _require_text(by, "办结人", "closing officer")
    targets = [matter]
    if matter.supersedes_id is not None:
        earlier = get_matter(conn, matter.supersedes_id)
        if earlier.state != "closed":
            targets.append(earlier)
    for target in targets:
        conn.execute(
            update(supervision_matters)
            .where(supervision_matters.c.id == target.id)
            .values(state="closed", appeal_pending=False, updated_at=utc_time(at, "closing time"))
        )
        text = note if target is matter else f"随 {matter.number} 一并办结。{note}".strip()
        add_event(conn, target.id, "closed", actor=closer, at=at, note=text)
    return get_matter(conn, matter.id)


def record_appeal(conn: Connection, ref: int | str, *, text: str, by: str, at: datetime) -> Matter:
    """Record the department's appeal (申辩); escalation pauses until the bureau closes it."""
    at = utc_time(at, "time")
    matter = get_matter(conn, ref)
    _not_closed(matter, "申辩", "appealed")
    body = _require_text(text, "申辩理由", "appeal text")
    appellant = _require_text(by, "申辩人", "appellant")
    conn.execute(
        update(supervision_matters)
        .where(supervision_matters.c.id == matter.id)
        .values(appeal_pending=True, updated_at=utc_time(at, "appeal time"))
    )
    add_event(conn, matter.id, "appealed", actor=appellant, at=at, note=body)
    return get_matter(conn, matter.id)
