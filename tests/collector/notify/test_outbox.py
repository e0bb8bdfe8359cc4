"""The outbox on SQLite and PostgreSQL: idempotent enqueue, routing to the right people."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select

from collector.clock import WorkCalendar
from collector.notify import (
    ContactError,
    NotifyConfig,
    add_contact,
    dispatch_due,
    enqueue_for_verdicts,
    list_contacts,
)
from collector.notify.providers import Providers
from collector.store.tables import (
    notify_outbox,
    record_versions,
    records_current,
    verdict_withdrawals,
    verdicts,
)

from .conftest import DEPT, WORKING_MORNING, People, verdict

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def outbox(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(notify_outbox).order_by(notify_outbox.c.id)).all()


def put_record(engine: Engine, record_type: str, case_id: str, body: dict[str, Any]) -> None:
    key = f"{record_type}|{case_id}|{body.get('SPBZH', '')}"
    with engine.begin() as conn:
        version = conn.execute(
            record_versions.insert().values(
                business_key=key,
                record_type=record_type,
                sblsh=case_id,
                sjbbh=1,
                content_hash="0" * 64,
                body=body,
                department=DEPT,
                received_at=NOW,
                source="test",
            )
        ).inserted_primary_key[0]
        conn.execute(
            records_current.insert().values(
                business_key=key,
                record_type=record_type,
                sblsh=case_id,
                sjbbh=1,
                version_id=version,
                body=body,
                department=DEPT,
                received_at=NOW,
            )
        )


def test_enqueueing_the_same_verdict_three_times_gives_one_message_per_recipient(
    engine: Engine, people: People, config: NotifyConfig
) -> None:
    for _ in range(3):
        with engine.begin() as conn:
            enqueue_for_verdicts(conn, [verdict(kind="yellow")], NOW, config)
    rows = outbox(engine)
    # yellow: SMS + email to the department leader and the bureau supervisor
    assert sorted((r.contact_id, r.channel) for r in rows) == sorted(
        [
            (people.leader, "sms"),
            (people.leader, "email"),
            (people.supervisor, "sms"),
            (people.supervisor, "email"),
        ]
    )
    assert {r.state for r in rows} == {"pending"}
    assert {r.address for r in rows if r.channel == "sms"} == {"+8613800000003", "+8613800000004"}


def test_enqueue_reports_how_many_messages_are_new(
    engine: Engine, people: People, config: NotifyConfig
) -> None:
    with engine.begin() as conn:
        first = enqueue_for_verdicts(conn, [verdict(kind="red")], NOW, config)
        again = enqueue_for_verdicts(conn, [verdict(kind="red")], NOW, config)
    assert (first, again) == (4, 0)


def test_a_warning_goes_to_the_officers_named_on_the_case(
    engine: Engine, people: People, config: NotifyConfig
) -> None:
    with engine.begin() as conn:
        other = add_contact(
            conn,
            department=DEPT,
            role="handling_officer",
            name="张另一",
            now=NOW,
            phone="+8613800000009",
        )
    put_record(engine, "SL", "SB-0001", {"BLRXM": "张另一", "SLZTDM": "1"})
    with engine.begin() as conn:
        enqueue_for_verdicts(conn, [verdict()], NOW, config)
    rows = outbox(engine)
    # the named handling officer only; no approver is named, so every approving officer
    assert sorted(r.contact_id for r in rows) == sorted([other, people.approving])
    assert {r.channel for r in rows} == {"sms"}
    sms = next(r for r in rows if r.contact_id == other)
    assert sms.body == "您办理的办件SB-0001将于2026-12-02到期，请在期限内办结。"
    assert sms.params == [["case_id", "SB-0001"], ["deadline", "2026-12-02"]]


def test_a_warning_without_named_officers_goes_to_all_officers_of_the_department(
    engine: Engine, people: People, config: NotifyConfig
) -> None:
    with engine.begin() as conn:
        enqueue_for_verdicts(conn, [verdict()], NOW, config)
    assert sorted(r.contact_id for r in outbox(engine)) == sorted(
        [people.handling, people.approving]
    )


def test_an_anomaly_goes_to_the_bureau_by_email_and_bot(
    engine: Engine, people: People, config: NotifyConfig
) -> None:
    with engine.begin() as conn:
        enqueue_for_verdicts(conn, [verdict(kind="anomaly", code="A01")], NOW, config)
    rows = outbox(engine)
    assert sorted((r.contact_id, r.channel, r.address) for r in rows) == sorted(
        [
            (people.supervisor, "email", "qian@jcj.example.gov.cn"),
            (people.bureau_bot, "bot", "bureau"),
        ]
    )
    email = next(r for r in rows if r.channel == "email")
    assert "市市场监督管理局" in email.subject and "A01" in email.subject


def test_contacts_are_checked_and_listed(engine: Engine, people: People) -> None:
    with engine.begin() as conn:
        with pytest.raises(ContactError, match=r"E\.164"):
            add_contact(
                conn,
                department=DEPT,
                role="handling_officer",
                name="x",
                now=NOW,
                phone="13800000000",
            )
        with pytest.raises(ContactError, match="role"):
            add_contact(
                conn, department=DEPT, role="mayor", name="x", now=NOW, phone="+8613800000000"
            )
        with pytest.raises(ContactError, match="already exists"):
            add_contact(
                conn,
                department=DEPT,
                role="handling_officer",
                name="李经办",
                now=NOW,
                phone="+8613800000001",
            )
        names = [c.name for c in list_contacts(conn, DEPT)]
    assert names == ["王审批", "赵局长", "李经办"]


def test_messages_of_a_withdrawn_verdict_are_not_sent(
    engine: Engine, people: People, config: NotifyConfig, calendar: WorkCalendar
) -> None:
    with engine.begin() as conn:
        verdict_id = conn.execute(
            verdicts.insert()
            .values(
                sblsh="SB-0001",
                department=DEPT,
                kind="red",
                code="",
                rule="red.legal",
                level="red",
                dedup_key="SB-0001|red.legal|red",
                issued_at=NOW,
                due={},
                calendar_version=1,
                rule_version="r",
                details={},
            )
            .returning(verdicts.c.id)
        ).scalar_one()
        enqueue_for_verdicts(
            conn,
            [verdict(verdict_id, kind="red", dedup_key="SB-0001|red.legal|red")],
            NOW,
            config,
        )
        conn.execute(
            verdict_withdrawals.insert().values(
                verdict_id=verdict_id,
                withdrawn_at=NOW,
                decided_by="钱督办",
                reason="calendar corrected",
            )
        )
    summary = dispatch_due(engine, Providers(), WORKING_MORNING, calendar=calendar, config=config)
    assert summary.failed == 4 and summary.sent == 0
    assert {(r.state, r.last_error.split(":")[0]) for r in outbox(engine)} == {
        ("failed", "verdict withdrawn after reassessment")
    }
