"""From records to matters through the real engine: the sweep issues a yellow card on the
working Saturday after the National Day holiday, then a red one; the subscribed listener opens
the matters in the sweep's transaction (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from collector.cli import main
from collector.engine.events import notify_new_verdicts
from collector.engine.sweep import run_sweep
from collector.settings import CollectorSettings
from collector.supervision import MatterPolicy, escalate_due, get_matter, list_matters
from collector.supervision.calendars import calendar_for
from collector.supervision.documents import notice_context, render_notice_html
from collector.supervision.listener import subscribe, unsubscribe
from tests.collector.engine.records import at, sl, store, sx

from .helpers import verdict

CASE = "430700SCJ20260924001"


@pytest.fixture
def subscribed() -> Iterator[None]:
    subscribe(MatterPolicy(reply_workdays=5))
    yield
    unsubscribe()


def test_the_sweep_opens_matters_for_its_cards(engine: Engine, subscribed: None) -> None:
    # Accepted 24 Sep with 5 working days: promised deadline Fri 9 Oct (see the engine tests).
    store(engine, [sx(), sl(CASE, "2026-09-24T10:00:00+08:00", gdblsx=5)])
    run_sweep(engine, at=at("2026-10-08 09:00"))  # a warning only: no matter
    with engine.connect() as conn:
        assert list_matters(conn) == []

    run_sweep(engine, at=at("2026-10-10 09:00"))  # yellow on the working Saturday
    run_sweep(engine, at=at("2026-10-10 12:00"))  # the same card again: nothing new
    with engine.connect() as conn:
        (yellow,) = list_matters(conn)
        html = render_notice_html(notice_context(conn, yellow, bureau_name="局"))
    assert (yellow.case_id, yellow.card, yellow.number) == (CASE, "yellow", "督〔2026〕第0001号")
    assert yellow.opened_on == date(2026, 10, 10)
    assert yellow.due_reply_by == date(2026, 10, 16)  # 12, 13, 14, 15, 16 Oct
    assert "2026年10月9日" in html  # the promised deadline the engine computed
    assert "1 个工作日（1 个自然日）" in html  # 10 Oct is a working day

    run_sweep(engine, at=at("2026-10-15 09:00"))  # red: yellow not corrected in 3 working days
    with engine.connect() as conn:
        matters = list_matters(conn)
        yellow = get_matter(conn, yellow.id)
    assert [(m.card, m.level) for m in matters] == [("yellow", "officer"), ("red", "leader")]
    assert matters[1].number == "督〔2026〕第0002号"
    assert yellow.superseded_by_id == matters[1].id
    with engine.begin() as conn:
        # 22 Oct: the red matter (due 22 Oct) is not late yet; the yellow one is superseded.
        assert escalate_due(conn, calendar=calendar_for(conn), at=at("2026-10-22 18:00")) == []


def test_cards_stored_without_the_listener_get_their_matters_later(
    engine: Engine, settings: CollectorSettings
) -> None:
    store(engine, [sx(), sl(CASE, "2026-09-24T10:00:00+08:00", gdblsx=5)])
    run_sweep(engine, at=at("2026-10-10 09:00"))
    run_sweep(engine, at=at("2026-10-15 09:00"))
    with engine.connect() as conn:
        assert list_matters(conn) == []
    store_args = ["--store", settings.resolved_store_url]
    result = CliRunner().invoke(main, ["supervision", "open-missing", *store_args])
    assert result.exit_code == 0, result.output
    assert "2 matter(s) opened" in result.output
    with engine.connect() as conn:
        yellow, red = list_matters(conn)
    # The same numbers, times and deadlines the listener would have given.
    assert (yellow.number, yellow.opened_on, yellow.due_reply_by) == (
        "督〔2026〕第0001号",
        date(2026, 10, 10),
        date(2026, 10, 16),
    )
    assert (red.card, red.supersedes_id, red.due_reply_by) == ("red", yellow.id, date(2026, 10, 22))
    again = CliRunner().invoke(main, ["supervision", "open-missing", *store_args])
    assert "0 matter(s) opened" in again.output


def test_a_matter_that_cannot_open_never_blocks_the_verdicts(
    engine: Engine, subscribed: None
) -> None:
    bad = dict(verdict(1), issued_at=datetime(2026, 10, 10, 9))  # no time zone: refused
    with engine.begin() as conn:
        notify_new_verdicts(conn, [bad, verdict(2, case_id="C2")])  # type: ignore[list-item]
    with engine.connect() as conn:
        assert [m.verdict_id for m in list_matters(conn)] == ["2"]
