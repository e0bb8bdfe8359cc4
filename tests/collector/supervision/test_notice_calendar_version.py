"""A notice counts overdue working days on the calendar version its card names, not on a calendar
imported later (SQLite and PostgreSQL).

The card (helpers.verdict) is a yellow on calendar v1: promised deadline Tue 15 Sep 2026, matter
opened Wed 30 Sep. On v1 (the State Council's 2026 notice) 16-30 Sep hold 11 working days: 11
weekdays, plus the adjusted working Sunday 20 Sep, minus 中秋节 Fri 25 Sep. A later import (v2)
that makes Thu 24 Sep a rest day too would count 10; the notice must still say 11."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import Engine

from collector.cli import main
from collector.clock import bundled_notice_text
from collector.engine import calendar_store
from collector.settings import CollectorSettings
from collector.supervision import get_matter, open_matters_for
from collector.supervision.calendars import calendar_for
from collector.supervision.documents import generate_notice, notice_context

from .helpers import OPENED, import_case, verdict

NUMBER = "督〔2026〕第0001号"
V1_OVERDUE = "11 个工作日（15 个自然日）"
V2_OVERDUE = "10 个工作日（15 个自然日）"


def import_longer_mid_autumn(engine: Engine, folder: Path) -> int:
    """Calendar v2: the 2026 notice with 中秋节 starting on Thu 24 Sep instead of Fri 25 Sep."""
    text = bundled_notice_text(2026)
    assert text is not None
    changed = text.replace(
        'name = "中秋节"\nfrom = 2026-09-25', 'name = "中秋节"\nfrom = 2026-09-24'
    )
    assert changed != text
    path = folder / "2026.toml"
    path.write_text(changed, encoding="utf-8")
    result = calendar_store.import_notice(engine, path, actor="李管理员")
    assert result.version == 2
    # Every row's source changes (seed -> notice); only 24 Sep changes from work to rest.
    flipped = [
        c.day for c in result.changes if c.old is None or c.old.is_workday != c.new.is_workday
    ]
    assert flipped == [date(2026, 9, 24)]
    return result.version


def open_card_on_v1(engine: Engine, folder: Path) -> None:
    import_case(engine, folder)
    assert calendar_store.current_calendar(engine).version == "1"  # seeds v1 in the store
    with engine.begin() as conn:
        (matter,) = open_matters_for(conn, [verdict(1)], calendar=calendar_for(conn, 1))
    assert (matter.number, matter.calendar_version, matter.opened_on) == (
        NUMBER,
        "1",
        OPENED.date(),
    )


def test_the_notice_counts_overdue_days_on_the_cards_calendar_version(
    engine: Engine, tmp_path: Path
) -> None:
    open_card_on_v1(engine, tmp_path)
    import_longer_mid_autumn(engine, tmp_path)
    with engine.connect() as conn:
        # The change does fall inside the overdue span: v2 really counts one day less.
        span = (date(2026, 9, 15), date(2026, 9, 30))
        assert calendar_for(conn, 1).workdays_between(*span).count == 11
        assert calendar_for(conn, 2).workdays_between(*span).count == 10
        assert calendar_for(conn).version == "2"
        context = notice_context(conn, get_matter(conn, NUMBER), bureau_name="常德市监察局")
    assert context["overdue"] == V1_OVERDUE
    assert context["calendar_version"] == "1"

    with engine.begin() as conn:
        stored = generate_notice(
            conn,
            NUMBER,
            bureau_name="常德市监察局",
            documents_dir=tmp_path / "documents",
            by="李监察员",
            at=OPENED,
        )
    assert V1_OVERDUE in stored.html and V2_OVERDUE not in stored.html
    assert "工作日历版本 1" in stored.html


def test_the_notice_command_uses_the_cards_calendar_version(
    engine: Engine, settings: CollectorSettings, tmp_path: Path
) -> None:
    open_card_on_v1(engine, tmp_path)
    import_longer_mid_autumn(engine, tmp_path)
    html = tmp_path / "notice.html"
    store = ["--store", settings.resolved_store_url, "--data-dir", str(settings.data_dir)]
    result = CliRunner().invoke(
        main,
        [
            "supervision",
            "notice",
            NUMBER,
            "--pdf",
            str(tmp_path / "n.pdf"),
            "--html",
            str(html),
            *store,
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    text = html.read_text(encoding="utf-8")
    assert V1_OVERDUE in text and V2_OVERDUE not in text
