"""Notices of a matter: 督办通知书 (yellow) and 整改建议书 (red), as HTML and PDF.

Overdue working days are counted on the calendar version the card names (the matter's
``calendar_version``), never on whatever calendar is newest when the notice is printed: a
calendar imported after the card would otherwise change what the card said.

The notice is built only from whitelisted facts: the case number, the item, the acceptance
time, deadlines and overdue days, rule and calendar versions, the department and the bureau.
Applicants' personal data (name, ID number, phone) is never read into the context, so a
template change cannot leak it. The PDF is stored content-addressed under the documents
folder (``<sha256[:2]>/<sha256>.pdf``) with its hash in ``supervision_documents``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy import Connection, insert, select

from collector.clock import SHANGHAI
from collector.store.tables import departments, records_current, supervision_documents

from .calendars import calendar_for
from .errors import DocumentError
from .matters import Matter, add_event, get_matter, utc_time
from .pdf import html_to_pdf

CARD_NAMES = {"yellow": "黄牌", "red": "红牌"}


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("collector.supervision", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def zh_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _zh_time(value: Any) -> str:
    """An ISO time (with offset) as Asia/Shanghai ``2026年9月1日 09:30``; '—' when absent."""
    if not isinstance(value, str) or not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        return f"{zh_date(moment.date())} {moment:%H:%M}"
    local = moment.astimezone(SHANGHAI)
    return f"{zh_date(local.date())} {local:%H:%M}"


def _iso_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _case_bodies(conn: Connection, case_id: str) -> dict[str, dict[str, Any]]:
    rc = records_current.c
    rows = conn.execute(
        select(rc.record_type, rc.body).where(rc.sblsh == case_id, rc.record_type.in_(("SB", "SL")))
    ).all()
    return {row.record_type: dict(row.body) for row in rows}


def _item_name(conn: Connection, department: str, item_code: str) -> str:
    if not item_code:
        return ""
    rc = records_current.c
    body = conn.execute(
        select(rc.body).where(rc.business_key == f"SX|{department}|{item_code}")
    ).scalar()
    return str(body.get("SXMC") or "") if isinstance(body, dict) else ""


def _department_name(conn: Connection, code: str, fallback: str) -> str:
    name = conn.execute(select(departments.c.name).where(departments.c.code == code)).scalar()
    return str(name or fallback or code)


def notice_context(conn: Connection, matter: Matter, *, bureau_name: str) -> dict[str, Any]:
    """Everything the notice shows, as text; no applicant data is read. Working days are
    counted on the matter's calendar version (the one its card was computed with)."""
    calendar = calendar_for(conn, matter.calendar_version)
    bodies = _case_bodies(conn, matter.case_id)
    sl, sb = bodies.get("SL", {}), bodies.get("SB", {})
    item_code = str(sl.get("SXBM") or sb.get("SXBM") or "")
    item_name = (
        sl.get("SXMC") or sb.get("SXMC") or _item_name(conn, matter.department, item_code) or "—"
    )
    due = dict(matter.verdict.get("due") or {})
    details = dict(matter.verdict.get("details") or {})
    promised = _iso_date(due.get("promised_deadline") or details.get("promised_deadline"))
    legal = _iso_date(due.get("legal_deadline") or details.get("legal_deadline"))
    opened_on = matter.opened_on
    # Overdue against the limit the card is about: the legal one for a red card once passed.
    basis, deadline = "promised", promised
    if matter.card == "red" and legal is not None and legal < opened_on:
        basis, deadline = "legal", legal
    if deadline is not None and deadline < opened_on:
        workdays = calendar.workdays_between(deadline, opened_on).count
        overdue = f"{workdays} 个工作日（{(opened_on - deadline).days} 个自然日）"
    else:
        overdue = "—"
    issued = matter.verdict.get("issued_at")
    return {
        "title": matter.title,
        "number": matter.number,
        "card": matter.card,
        "card_name": CARD_NAMES[matter.card],
        "bureau_name": bureau_name,
        "department_name": _department_name(
            conn, matter.department, str(sl.get("BMMC") or sb.get("BMMC") or "")
        ),
        "case_id": matter.case_id,
        "item_name": str(item_name),
        "item_code": item_code or "—",
        "accepted": _zh_time(sl.get("SLSJ")),
        "promised_deadline": zh_date(promised) if promised else "—",
        "legal_deadline": zh_date(legal) if legal else "—",
        "overdue": overdue,
        "overdue_basis": basis,
        "issued": _zh_time(issued) if issued else zh_date(opened_on),
        "rule": matter.rule or matter.card,
        "rule_version": matter.rule_version or "—",
        "calendar_version": matter.calendar_version or "—",
        "due_reply_by": zh_date(matter.due_reply_by),
        "due_provisional": matter.due_provisional,
        "reply_workdays": matter.reply_workdays,
        "notice_date": zh_date(opened_on),
    }


def render_notice_html(context: dict[str, Any]) -> str:
    """The notice as one self-contained HTML document (autoescaped)."""
    return _environment().get_template("notice.html").render(**context)


@dataclass(frozen=True)
class StoredNotice:
    """A generated notice: its HTML, PDF, hash and where the PDF is kept."""

    matter: Matter
    html: str
    pdf: bytes
    sha256: str
    path: Path


def store_pdf(documents_dir: Path, pdf: bytes) -> tuple[str, Path]:
    """Write the PDF under its SHA-256 (once; the same bytes land in the same file)."""
    digest = hashlib.sha256(pdf).hexdigest()
    path = documents_dir / digest[:2] / f"{digest}.pdf"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(pdf)
            os.replace(tmp, path)
    except OSError as exc:
        raise DocumentError(
            f"无法保存督办文书到 {path}",
            f"cannot store the notice at {path}: {exc}",
            "check that the collector's data_dir/documents folder is writable and has space",
        ) from exc
    return digest, path


def generate_notice(
    conn: Connection,
    ref: int | str,
    *,
    bureau_name: str,
    documents_dir: Path,
    by: str,
    at: datetime,
) -> StoredNotice:
    """Render the matter's notice as HTML and PDF, store the PDF and record it in history."""
    at = utc_time(at, "generation time")
    matter = get_matter(conn, ref)
    html = render_notice_html(notice_context(conn, matter, bureau_name=bureau_name))
    pdf = html_to_pdf(html)
    digest, path = store_pdf(documents_dir, pdf)
    relative = path.relative_to(documents_dir).as_posix()
    conn.execute(
        insert(supervision_documents).values(
            matter_id=matter.id,
            title=matter.title,
            sha256=digest,
            path=relative,
            size=len(pdf),
            generated_at=at,
            generated_by=by,
        )
    )
    add_event(
        conn,
        matter.id,
        "notice_generated",
        actor=by,
        at=at,
        note=f"{matter.title} {matter.number}",
        data={"sha256": digest, "path": relative, "size": len(pdf)},
    )
    return StoredNotice(matter, html, pdf, digest, path)
