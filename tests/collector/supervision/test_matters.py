"""Matters opened from card verdicts: numbers, reply deadlines across the 2026 National Day
holiday, idempotence, red superseding yellow, replies, closing and appeals (SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from collector.clock import SHANGHAI, WorkCalendar
from collector.engine.calendar_store import ensure_seeded
from collector.engine.events import notify_new_verdicts
from collector.store.tables import supervision_matters
from collector.supervision import (
    MatterNotFound,
    MatterPolicy,
    MatterStateError,
    SupervisionError,
    close_matter,
    get_matter,
    list_matters,
    matter_events,
    open_matters_for,
    record_appeal,
    record_reply,
)
from collector.supervision.listener import subscribe, unsubscribe

from .helpers import CASE, OPENED, verdict


def test_the_calendar_knows_the_2026_national_day(calendar: WorkCalendar) -> None:
    # Guards the expectations below: 1-7 Oct rest, Saturday 10 Oct is an adjusted working day.
    assert calendar.is_workday(date(2026, 10, 8))
    assert [calendar.is_workday(date(2026, 10, d)) for d in range(1, 8)] == [False] * 7
    assert calendar.is_workday(date(2026, 10, 10))


def test_a_yellow_verdict_opens_a_numbered_matter_due_after_the_holiday(
    engine: Engine, calendar: WorkCalendar
) -> None:
    with engine.begin() as conn:
        opened = open_matters_for(conn, [verdict(1)], calendar=calendar)
    assert len(opened) == 1
    matter = opened[0]
    assert matter.number == "督〔2026〕第0001号"
    assert matter.title == "督办通知书"
    assert (matter.card, matter.state, matter.level) == ("yellow", "open", "officer")
    # 30 Sep + 5 working days: 8 Oct d1, 9 Oct d2, Sat 10 Oct d3, 12 Oct d4, 13 Oct d5.
    assert matter.due_reply_by == date(2026, 10, 13)
    assert matter.due_provisional is False
    assert (matter.case_id, matter.department) == (CASE, "D1")
    assert (matter.calendar_version, matter.rule_version) == ("1", "rules-2026.1")
    assert matter.opened_at == OPENED
    with engine.connect() as conn:
        history = matter_events(conn, matter.id)
    assert [e.kind for e in history] == ["opened"]
    assert history[0].data == {"verdict_id": "1", "due_reply_by": "2026-10-13"}


def test_the_reply_window_is_configurable(engine: Engine, calendar: WorkCalendar) -> None:
    with engine.begin() as conn:
        (matter,) = open_matters_for(
            conn, [verdict(1)], calendar=calendar, policy=MatterPolicy(reply_workdays=3)
        )
    assert matter.due_reply_by == date(2026, 10, 10)  # the working Saturday
    with pytest.raises(SupervisionError, match=r"1\.\.60"):
        MatterPolicy(reply_workdays=0)


def test_the_same_verdict_twice_opens_one_matter(engine: Engine, calendar: WorkCalendar) -> None:
    with engine.begin() as conn:
        first = open_matters_for(conn, [verdict(7), verdict(7)], calendar=calendar)
    with engine.begin() as conn:
        again = open_matters_for(conn, [verdict(7)], calendar=calendar)
    assert len(first) == 1
    assert again == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(supervision_matters)).scalar() == 1


def test_numbers_follow_each_other_and_restart_each_year(
    engine: Engine, calendar: WorkCalendar
) -> None:
    new_year = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 1 Jan 2027 00:30 in Beijing
    with engine.begin() as conn:
        matters = open_matters_for(
            conn,
            [
                verdict(1),
                verdict(2, case_id="C2"),
                verdict(3, case_id="C3", issued_at=new_year),
                verdict(4, kind="warning", case_id="C4"),
                verdict(5, kind="anomaly", case_id="C5"),
            ],
            calendar=calendar,
        )
    assert [m.number for m in matters] == [
        "督〔2026〕第0001号",
        "督〔2026〕第0002号",
        "督〔2027〕第0001号",
    ]
    # The 2027 calendar is not published yet: weekends only, and the matter says so.
    assert matters[2].due_provisional is True
    assert matters[2].due_reply_by == date(2027, 1, 8)


def test_an_opening_time_must_carry_its_zone(engine: Engine, calendar: WorkCalendar) -> None:
    with engine.begin() as conn, pytest.raises(SupervisionError, match="time zone"):
        open_matters_for(conn, [verdict(1, issued_at=datetime(2026, 9, 30, 10))], calendar=calendar)


def test_a_red_card_supersedes_the_open_yellow_matter_of_its_case(
    engine: Engine, calendar: WorkCalendar
) -> None:
    with engine.begin() as conn:
        (yellow,) = open_matters_for(conn, [verdict(1)], calendar=calendar)
        (red,) = open_matters_for(
            conn, [verdict(2, kind="red", issued_at=OPENED + timedelta(days=1))], calendar=calendar
        )
    with engine.connect() as conn:
        yellow = get_matter(conn, yellow.id)
        red = get_matter(conn, red.number)
        yellow_history = [e.kind for e in matter_events(conn, yellow.id)]
    assert red.title == "整改建议书"
    assert (red.level, red.state) == ("leader", "open")
    assert red.supersedes_id == yellow.id
    assert (yellow.state, yellow.superseded_by_id) == ("escalated", red.id)
    assert yellow_history == ["opened", "superseded"]
    # Closing the red matter closes the yellow one with it.
    with engine.begin() as conn:
        close_matter(conn, red.id, by="李监察员", note="已整改", at=OPENED + timedelta(days=10))
    with engine.connect() as conn:
        assert get_matter(conn, yellow.id).state == "closed"
        assert matter_events(conn, yellow.id)[-1].note.startswith(f"随 {red.number} 一并办结")


def test_reply_then_close_keeps_the_history(engine: Engine, calendar: WorkCalendar) -> None:
    replied_at = datetime(2026, 10, 9, 8, 0, tzinfo=UTC)
    closed_at = datetime(2026, 10, 12, 3, 0, tzinfo=UTC)
    with engine.begin() as conn:
        (matter,) = open_matters_for(conn, [verdict(1)], calendar=calendar)
        replied = record_reply(
            conn,
            matter.number,
            text="该件已于10月9日办结，超期因现场核查延误。",
            by="张科长",
            at=replied_at,
        )
        assert replied.state == "replied"
        closed = close_matter(conn, matter.id, by="李监察员", note="回告属实", at=closed_at)
    assert closed.state == "closed"
    with engine.connect() as conn:
        history = matter_events(conn, matter.id)
        assert [m.number for m in list_matters(conn, state="closed")] == [matter.number]
        assert list_matters(conn, state="open") == []
    assert [(e.kind, e.actor) for e in history] == [
        ("opened", "system"),
        ("reply_received", "张科长"),
        ("closed", "李监察员"),
    ]
    assert history[1].note.startswith("该件已于10月9日办结")
    assert history[1].at == replied_at
    with engine.begin() as conn, pytest.raises(MatterStateError, match="closed"):
        record_reply(conn, matter.id, text="again", by="张科长", at=closed_at)


def test_a_reply_needs_text_and_a_replier(engine: Engine, calendar: WorkCalendar) -> None:
    with engine.begin() as conn:
        (matter,) = open_matters_for(conn, [verdict(1)], calendar=calendar)
    with engine.begin() as conn, pytest.raises(SupervisionError, match="reply text is empty"):
        record_reply(conn, matter.id, text="  ", by="张科长", at=OPENED)
    with engine.begin() as conn, pytest.raises(SupervisionError, match="replier is empty"):
        record_reply(conn, matter.id, text="已办结", by="", at=OPENED)


def test_an_unknown_matter_says_how_to_find_one(engine: Engine) -> None:
    with engine.connect() as conn, pytest.raises(MatterNotFound, match="supervision list"):
        get_matter(conn, "督〔2026〕第9999号")


def test_an_appeal_is_recorded(engine: Engine, calendar: WorkCalendar) -> None:
    at = datetime(2026, 10, 8, 10, 0, tzinfo=SHANGHAI)  # stored as UTC, read back equal
    with engine.begin() as conn:
        (matter,) = open_matters_for(conn, [verdict(1)], calendar=calendar)
        appealed = record_appeal(
            conn, matter.id, text="特别程序已报批，系数据迟报", by="张科长", at=at
        )
    assert appealed.appeal_pending is True
    assert appealed.state == "open"
    with engine.connect() as conn:
        last = matter_events(conn, matter.id)[-1]
    assert (last.kind, last.actor, last.note, last.at) == (
        "appealed",
        "张科长",
        "特别程序已报批，系数据迟报",
        at,
    )


def test_new_card_verdicts_from_the_engine_open_matters(
    engine: Engine, calendar: WorkCalendar
) -> None:
    ensure_seeded(engine)  # the engine's stored calendar, version 1, is what verdicts name
    subscribe(MatterPolicy(reply_workdays=5))
    try:
        with engine.begin() as conn:
            rows = [verdict(1), verdict(2, kind="warning", case_id="C2")]
            notify_new_verdicts(conn, rows)  # type: ignore[arg-type]
    finally:
        unsubscribe()
    with engine.connect() as conn:
        matters = list_matters(conn)
    assert [(m.verdict_id, m.number) for m in matters] == [("1", "督〔2026〕第0001号")]
    assert matters[0].due_reply_by == date(2026, 10, 13)
    assert matters[0].opened_at.astimezone(SHANGHAI).date() == date(2026, 9, 30)
