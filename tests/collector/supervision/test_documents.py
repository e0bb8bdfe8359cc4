"""Notices: the HTML carries the right facts and no applicant data; the PDF has extractable
Chinese text and an embedded CJK font (checked with poppler's pdftotext and pdffonts), and is
stored under its SHA-256 (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select, update

from collector.clock import WorkCalendar
from collector.store.tables import departments, supervision_documents
from collector.supervision import matter_events, open_matters_for
from collector.supervision.documents import generate_notice, notice_context, render_notice_html

from .helpers import (
    APPLICANT_ID,
    APPLICANT_NAME,
    APPLICANT_PHONE,
    CASE,
    DEPARTMENT,
    DEPARTMENT_NAME,
    ITEM_NAME,
    OPENED,
    import_case,
    verdict,
)

BUREAU = "常德市监察局"


def test_the_notice_html_holds_the_facts_and_no_applicant_data(
    engine: Engine, calendar: WorkCalendar, tmp_path: Path
) -> None:
    import_case(engine, tmp_path)
    with engine.begin() as conn:
        (matter,) = open_matters_for(conn, [verdict(1)], calendar=calendar)
        html = render_notice_html(notice_context(conn, matter, bureau_name=BUREAU))
    for text in (
        "督办通知书",
        "督〔2026〕第0001号",
        f"{DEPARTMENT_NAME}：",
        CASE,
        ITEM_NAME,
        "000123",
        "2026年9月1日 09:30",  # acceptance
        "2026年9月15日",  # promised deadline
        "2026年9月29日",  # legal deadline
        # 16..30 Sep: 11 weekdays, plus working Sunday 20 Sep, minus Mid-Autumn Fri 25 Sep.
        "11 个工作日（15 个自然日）",
        "promised_limit",
        "rules-2026.1",
        "工作日历版本 1",
        "2026年10月13日",  # reply deadline
        BUREAU,
    ):
        assert text in html, text
    for secret in (APPLICANT_ID, APPLICANT_PHONE, APPLICANT_NAME):
        assert secret not in html


def test_the_red_notice_is_a_rectification_proposal(
    engine: Engine, calendar: WorkCalendar, tmp_path: Path
) -> None:
    import_case(engine, tmp_path)
    with engine.begin() as conn:
        (matter,) = open_matters_for(conn, [verdict(2, kind="red")], calendar=calendar)
        html = render_notice_html(notice_context(conn, matter, bureau_name=BUREAU))
    assert "整改建议书" in html
    assert "已超过法定办理时限" in html
    assert "追究有关人员的行政过错责任" in html
    assert "督办通知书" not in html


def test_names_are_escaped_in_the_html(
    engine: Engine, calendar: WorkCalendar, tmp_path: Path
) -> None:
    import_case(engine, tmp_path)
    with engine.begin() as conn:
        conn.execute(
            update(departments)
            .where(departments.c.code == DEPARTMENT)
            .values(name="<script>alert(1)</script>局")
        )
        (matter,) = open_matters_for(conn, [verdict(1)], calendar=calendar)
        html = render_notice_html(notice_context(conn, matter, bureau_name="A&B"))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;局" in html
    assert "A&amp;B" in html


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def test_the_pdf_has_chinese_text_and_an_embedded_cjk_font(
    engine: Engine, calendar: WorkCalendar, tmp_path: Path
) -> None:
    import_case(engine, tmp_path)
    documents_dir = tmp_path / "data" / "documents"
    at = OPENED + timedelta(hours=1)
    with engine.begin() as conn:
        (matter,) = open_matters_for(conn, [verdict(1)], calendar=calendar)
        stored = generate_notice(
            conn,
            matter.number,
            bureau_name=BUREAU,
            documents_dir=documents_dir,
            by="李监察员",
            at=at,
        )
    assert stored.pdf.startswith(b"%PDF-")
    digest = hashlib.sha256(stored.pdf).hexdigest()
    assert stored.sha256 == digest
    assert stored.path == documents_dir / digest[:2] / f"{digest}.pdf"
    assert stored.path.read_bytes() == stored.pdf

    text = _run("pdftotext", "-layout", str(stored.path), "-")
    squeezed = "".join(text.split())
    for expected in ("督办通知书", DEPARTMENT_NAME, "督〔2026〕第0001号", BUREAU, ITEM_NAME):
        assert expected in squeezed, expected
    assert APPLICANT_ID not in squeezed
    fonts = _run("pdffonts", str(stored.path))
    cjk = [line for line in fonts.splitlines() if "CJK" in line]
    assert cjk, fonts
    assert all(line.split()[-5] == "yes" for line in cjk), fonts  # the "emb" column

    with engine.connect() as conn:
        row = conn.execute(
            select(supervision_documents).where(supervision_documents.c.matter_id == matter.id)
        ).one()
        last = matter_events(conn, matter.id)[-1]
    assert (row.sha256, row.path, row.size, row.title) == (
        digest,
        f"{digest[:2]}/{digest}.pdf",
        len(stored.pdf),
        "督办通知书",
    )
    assert row.generated_by == "李监察员"
    assert (last.kind, last.actor, last.at) == ("notice_generated", "李监察员", at)
    assert last.data == {"sha256": digest, "path": row.path, "size": len(stored.pdf)}
