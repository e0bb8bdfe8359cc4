"""Escalation after the reply deadline, counted in working days across the 2026 holidays;
replied, appealed and superseded matters stay where they are (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine

from collector.clock import SHANGHAI, WorkCalendar
from collector.supervision import (
    escalate_due,
    get_matter,
    matter_events,
    open_matters_for,
    record_appeal,
    record_reply,
)

from .helpers import OPENED, verdict


def beijing(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


def test_no_escalation_on_the_deadline_day_itself(engine: Engine, calendar: WorkCalendar) -> None:
    with engine.begin() as conn:
        open_matters_for(conn, [verdict(1)], calendar=calendar)
        assert escalate_due(conn, calendar=calendar, at=beijing(date(2026, 10, 13), 23)) == []


def test_a_matter_escalates_one_level_per_missed_deadline(
    engine: Engine, calendar: WorkCalendar
) -> None:
    with engine.begin() as conn:
        (matter,) = open_matters_for(conn, [verdict(1)], calendar=calendar)
    with engine.begin() as conn:
        steps = escalate_due(conn, calendar=calendar, at=beijing(date(2026, 10, 14)))
    assert [(s.from_level, s.to_level, s.due_was, s.due_reply_by) for s in steps] == [
        # 13 Oct + 5 working days: 14, 15, 16, 19, 20 Oct.
        ("officer", "leader", date(2026, 10, 13), date(2026, 10, 20))
    ]
    with engine.begin() as conn:
        # Running again the same day changes nothing.
        assert escalate_due(conn, calendar=calendar, at=beijing(date(2026, 10, 14), 18)) == []
        current = get_matter(conn, matter.id)
    assert (current.state, current.level, current.due_reply_by) == (
        "escalated",
        "leader",
        date(2026, 10, 20),
    )
    with engine.begin() as conn:
        steps = escalate_due(conn, calendar=calendar, at=beijing(date(2026, 10, 21)))
        assert [(s.to_level, s.due_reply_by) for s in steps] == [("bureau", date(2026, 10, 27))]
        # The bureau is the top: nothing further, however late.
        assert escalate_due(conn, calendar=calendar, at=beijing(date(2026, 12, 1))) == []
        history = matter_events(conn, matter.id)
    assert [e.kind for e in history] == ["opened", "escalated", "escalated"]
    assert history[1].data == {
        "from": "officer",
        "to": "leader",
        "due_was": "2026-10-13",
        "due_reply_by": "2026-10-20",
    }
    assert "逾期未回告" in history[1].note


def test_a_late_sweep_applies_every_step_from_the_deadlines(
    engine: Engine, calendar: WorkCalendar
) -> None:
    with engine.begin() as conn:
        open_matters_for(conn, [verdict(1)], calendar=calendar)
        steps = escalate_due(conn, calendar=calendar, at=beijing(date(2026, 10, 28)))
    assert [(s.to_level, s.due_reply_by) for s in steps] == [
        ("leader", date(2026, 10, 20)),
        ("bureau", date(2026, 10, 27)),
    ]


def test_a_red_matter_starts_at_the_leader_and_goes_to_the_bureau(
    engine: Engine, calendar: WorkCalendar
) -> None:
    with engine.begin() as conn:
        open_matters_for(conn, [verdict(1, kind="red")], calendar=calendar)
        steps = escalate_due(conn, calendar=calendar, at=beijing(date(2026, 10, 14)))
    assert [(s.from_level, s.to_level) for s in steps] == [("leader", "bureau")]


def test_replied_appealed_and_superseded_matters_do_not_escalate(
    engine: Engine, calendar: WorkCalendar
) -> None:
    at = datetime(2026, 10, 9, 2, tzinfo=UTC)
    with engine.begin() as conn:
        replied, appealed, yellow = open_matters_for(
            conn,
            [verdict(1), verdict(2, case_id="C2"), verdict(3, case_id="C3")],
            calendar=calendar,
        )
        record_reply(conn, replied.id, text="已办结", by="张科长", at=at)
        record_appeal(conn, appealed.id, text="数据有误", by="王主任", at=at)
        (red,) = open_matters_for(
            conn,
            [verdict(4, kind="red", case_id="C3", issued_at=OPENED + timedelta(days=8))],
            calendar=calendar,
        )
        steps = escalate_due(conn, calendar=calendar, at=beijing(date(2026, 10, 14)))
    # The red matter (opened 8 Oct) is due on 14 Oct itself; nothing escalates.
    assert red.due_reply_by == date(2026, 10, 14)
    assert steps == []
    with engine.connect() as conn:
        assert get_matter(conn, replied.id).level == "officer"
        assert get_matter(conn, appealed.id).level == "officer"
        assert get_matter(conn, yellow.id).superseded_by_id == red.id
