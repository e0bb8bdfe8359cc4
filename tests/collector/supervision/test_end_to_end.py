"""From records to matters through the real engine: the sweep issues a yellow card on the
working Saturday after the National Day holiday, then a red one; the subscribed listener opens
the matters in the sweep's transaction (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine

from collector.engine.sweep import run_sweep
from collector.supervision import MatterPolicy, escalate_due, get_matter, list_matters
from collector.supervision.calendars import calendar_for
from collector.supervision.documents import notice_context, render_notice_html
from collector.supervision.listener import subscribe, unsubscribe
from tests.collector.engine.records import at, sl, store, sx

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
        calendar = calendar_for(conn)
        html = render_notice_html(notice_context(conn, yellow, calendar=calendar, bureau_name="局"))
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
