"""`esup-collector supervision ...` through click's CliRunner on a migrated store (SQLite and
PostgreSQL): list, show, reply, appeal, close, escalate-due and notice."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import Engine

from collector.cli import main
from collector.clock import WorkCalendar
from collector.settings import CollectorSettings
from collector.supervision import open_matters_for

from .helpers import DEPARTMENT_NAME, import_case, verdict

NUMBER = "督〔2026〕第0001号"


def run(settings: CollectorSettings, *args: str) -> Result:
    store = ["--store", settings.resolved_store_url, "--data-dir", str(settings.data_dir)]
    return CliRunner().invoke(main, ["supervision", *args, *store], catch_exceptions=False)


def opened(engine: Engine, calendar: WorkCalendar) -> None:
    with engine.begin() as conn:
        open_matters_for(conn, [verdict(1), verdict(2, case_id="C2")], calendar=calendar)


def test_list_and_show(engine: Engine, calendar: WorkCalendar, settings: CollectorSettings) -> None:
    opened(engine, calendar)
    result = run(settings, "list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["number"], r["state"], r["due_reply_by"]) for r in rows] == [
        (NUMBER, "open", "2026-10-13"),
        ("督〔2026〕第0002号", "open", "2026-10-13"),
    ]
    result = run(settings, "list")
    assert NUMBER in result.output and "reply by 2026-10-13" in result.output
    assert (
        "no supervision matters in state closed"
        in run(settings, "list", "--state", "closed").output
    )

    result = run(settings, "show", NUMBER)
    assert result.exit_code == 0, result.output
    assert "督办通知书" in result.output and "opened" in result.output
    shown = json.loads(run(settings, "show", "1", "--json").output)
    assert shown["number"] == NUMBER
    assert [e["kind"] for e in shown["history"]] == ["opened"]


def test_reply_appeal_close_and_a_closed_matter_refuses_more(
    engine: Engine, calendar: WorkCalendar, settings: CollectorSettings
) -> None:
    opened(engine, calendar)
    result = run(
        settings, "reply", NUMBER, "--text", "已办结", "--by", "张科长", "--at", "2026-10-09T10:00"
    )
    assert result.exit_code == 0, result.output
    assert f"{NUMBER}: replied" in result.output
    result = run(settings, "appeal", "2", "--text", "数据迟报", "--by", "王主任")
    assert result.exit_code == 0, result.output
    result = run(settings, "close", NUMBER, "--by", "李监察员", "--note", "回告属实")
    assert result.exit_code == 0, result.output
    assert f"{NUMBER}: closed" in result.output
    history = json.loads(run(settings, "show", NUMBER, "--json").output)["history"]
    assert [(e["kind"], e["actor"]) for e in history] == [
        ("opened", "system"),
        ("reply_received", "张科长"),
        ("closed", "李监察员"),
    ]
    assert history[1]["at"] == "2026-10-09T02:00:00+00:00"  # --at without offset is Beijing
    appealed = json.loads(run(settings, "show", "2", "--json").output)
    assert appealed["appeal_pending"] is True

    result = run(settings, "reply", NUMBER, "--text", "x", "--by", "y")
    assert result.exit_code == 1
    assert "is closed" in result.output and "已办结" in result.output
    result = run(settings, "show", "99")
    assert result.exit_code == 1 and "esup-collector supervision list" in result.output


def test_escalate_due_at_a_given_time(
    engine: Engine, calendar: WorkCalendar, settings: CollectorSettings
) -> None:
    opened(engine, calendar)
    result = run(settings, "escalate-due", "--at", "2026-10-13T18:00+08:00")
    assert result.exit_code == 0, result.output
    assert "0 escalation(s)" in result.output
    result = run(settings, "escalate-due", "--at", "2026-10-14T09:00+08:00", "--json")
    assert result.exit_code == 0, result.output
    steps = json.loads(result.output)
    assert [(s["number"], s["to_level"], s["due_reply_by"]) for s in steps] == [
        (NUMBER, "leader", "2026-10-20"),
        ("督〔2026〕第0002号", "leader", "2026-10-20"),
    ]
    result = run(settings, "escalate-due", "--at", "yesterday")
    assert result.exit_code == 2 and "not an ISO time" in result.output


def test_notice_writes_the_pdf(
    engine: Engine, calendar: WorkCalendar, settings: CollectorSettings, tmp_path: Path
) -> None:
    import_case(engine, tmp_path)
    opened(engine, calendar)
    out = tmp_path / "notice.pdf"
    html = tmp_path / "notice.html"
    result = run(settings, "notice", NUMBER, "--pdf", str(out), "--html", str(html))
    assert result.exit_code == 0, result.output
    assert "sha256 " in result.output
    kept = list((settings.documents_dir).glob("*/*.pdf"))
    assert len(kept) == 1 and kept[0].read_bytes() == out.read_bytes()
    text = subprocess.run(
        ["pdftotext", str(out), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "督办通知书" in text and DEPARTMENT_NAME in "".join(text.split())
    assert "市监察局" in html.read_text(encoding="utf-8")  # the settings' default bureau name
