"""From records to a text message: the engine's sweep issues a warning, the listener puts it
in the outbox in the same transaction, re-running the sweep adds nothing, and dispatch sends
it to the officer named on the case through a local Alibaba Cloud SMS server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select

from collector.engine.calendar_store import current_calendar
from collector.engine.sweep import run_sweep
from collector.notify import NotifyConfig, add_contact, dispatch_due
from collector.notify.providers import AliyunSms, Providers
from collector.notify.subscription import subscribe, unsubscribe
from collector.store.tables import notify_outbox
from tests.collector.engine.records import DEPT, at, sl, store, sx

from .conftest import Handler, LocalApi
from .test_aliyun_sms import CODES, KEY_ID, SECRET, FakeDysms

CASE = "430700SCJ20260924001"


@pytest.fixture
def listening() -> Iterator[NotifyConfig]:
    config = NotifyConfig()
    listener = subscribe(config)
    yield config
    unsubscribe(listener)


def test_a_swept_warning_is_enqueued_once_and_texted_to_the_named_officer(
    engine: Engine, listening: NotifyConfig, local_api: Callable[[Handler], LocalApi]
) -> None:
    store(engine, [sx(), sl(CASE, "2026-09-24T10:00:00+08:00", gdblsx=5)])
    now = datetime(2026, 9, 30, tzinfo=UTC)
    with engine.begin() as conn:
        named = add_contact(
            conn,
            department=DEPT,
            role="handling_officer",
            name="王芳",
            now=now,
            phone="+8613900000001",
        )
        add_contact(
            conn,
            department=DEPT,
            role="handling_officer",
            name="别人",
            now=now,
            phone="+8613900000002",
        )
    morning = at("2026-10-08 09:00")  # the warning day, first working day after National Day
    for _ in range(3):
        run_sweep(engine, at=morning)
    with engine.connect() as conn:
        rows = conn.execute(select(notify_outbox)).all()
    assert [(r.contact_id, r.channel, r.kind) for r in rows] == [(named, "sms", "warning")]
    assert rows[0].body == f"您办理的办件{CASE}将于2026-10-09到期，请在期限内办结。"

    dysms = FakeDysms()
    api = local_api(dysms)
    providers = Providers(
        sms=AliyunSms(
            access_key_id=KEY_ID,
            access_key_secret=SECRET,
            sign_name="某市电子监察",
            template_codes=CODES,
            endpoint=api.url,
        )
    )
    summary = dispatch_due(
        engine, providers, morning, calendar=current_calendar(engine), config=listening
    )
    assert summary.sent == 1
    (sent,) = dysms.sent
    assert sent["PhoneNumbers"] == "13900000001"
    assert json.loads(sent["TemplateParam"]) == {"case_id": CASE, "deadline": "2026-10-09"}
