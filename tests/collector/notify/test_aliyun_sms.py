"""Alibaba Cloud SMS against a local server that checks requests like dysmsapi does: common
parameters, a fresh nonce, and the RPC signature recomputed here from the known secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, select

from collector.clock import WorkCalendar
from collector.notify import (
    collect_receipts,
    dispatch_due,
    enqueue_for_verdicts,
    parse_notify_config,
)
from collector.notify.config import NotifyConfig
from collector.notify.providers import AliyunSms, Providers
from collector.store.tables import notify_outbox

from .conftest import WORKING_MORNING, Handler, LocalApi, People, Request, beijing, verdict

KEY_ID = "LTAI5tTestKeyId"
SECRET = "testSecret/with+special=chars"
CODES = {"warning": "SMS_460001", "yellow": "SMS_460002", "red": "SMS_460003"}


def aliyun_encode(value: str) -> str:
    """The encoding as Alibaba Cloud documents it for Java: URLEncoder, then fix +, *, ~."""
    return quote(value, safe="").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def expected_signature(params: dict[str, str], secret: str) -> str:
    query = "&".join(aliyun_encode(k) + "=" + aliyun_encode(params[k]) for k in sorted(params))
    to_sign = "POST&" + aliyun_encode("/") + "&" + aliyun_encode(query)
    mac = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


class FakeDysms:
    """dysmsapi on 127.0.0.1: verifies, then answers from ``script`` (codes for SendSms)."""

    def __init__(self, script: list[str] | None = None) -> None:
        self.script = list(script or [])
        self.nonces: set[str] = set()
        self.sent: list[dict[str, str]] = []  # SendSms requests answered OK
        self.lock = threading.Lock()
        self.query_fails = False

    def __call__(self, request: Request) -> tuple[int, Any]:
        params = request.form()
        assert request.headers["content-type"].startswith("application/x-www-form-urlencoded")
        for name in (
            "AccessKeyId",
            "Action",
            "Format",
            "RegionId",
            "SignatureMethod",
            "SignatureNonce",
            "SignatureVersion",
            "Timestamp",
            "Version",
            "Signature",
        ):
            assert params.get(name), f"missing {name}"
        assert params["SignatureMethod"] == "HMAC-SHA1"
        assert params["SignatureVersion"] == "1.0"
        assert params["Version"] == "2017-05-25"
        assert params["Format"] == "JSON"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", params["Timestamp"])
        signature = params.pop("Signature")
        if params["AccessKeyId"] != KEY_ID or signature != expected_signature(params, SECRET):
            return 400, {
                "Code": "SignatureDoesNotMatch",
                "Message": "Specified signature is not matched",
                "RequestId": "R0",
            }
        with self.lock:
            if params["SignatureNonce"] in self.nonces:
                return 400, {"Code": "SignatureNonceUsed", "Message": "used", "RequestId": "R1"}
            self.nonces.add(params["SignatureNonce"])
        if params["Action"] == "SendSms":
            return self.send(params)
        if params["Action"] == "QuerySendDetails":
            return self.query(params)
        return 404, {"Code": "InvalidAction.NotFound", "Message": params["Action"]}

    def send(self, params: dict[str, str]) -> tuple[int, Any]:
        assert re.fullmatch(r"1\d{10}", params["PhoneNumbers"]), params["PhoneNumbers"]
        assert params["SignName"] == "某市电子监察"
        assert params["TemplateCode"] in CODES.values()
        assert isinstance(json.loads(params["TemplateParam"]), dict)
        assert params["OutId"].isdigit()
        with self.lock:
            code = self.script.pop(0) if self.script else "OK"
            if code == "500":
                return 500, {"Code": "InternalError", "Message": "busy"}
            if code != "OK":
                return 200, {"Code": code, "Message": "flow control", "RequestId": "R2"}
            self.sent.append(params)
            biz_id = f"9{len(self.sent):05d}^0"
        return 200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": "R3"}

    def query(self, params: dict[str, str]) -> tuple[int, Any]:
        if self.query_fails:
            return 200, {"Code": "isp.SYSTEM_ERROR", "Message": "busy", "RequestId": "R5"}
        for name in ("PhoneNumber", "SendDate", "PageSize", "CurrentPage", "BizId"):
            assert params.get(name), f"missing {name}"
        assert re.fullmatch(r"\d{8}", params["SendDate"])
        index = int(params["BizId"][1:6]) - 1
        sent = self.sent[index]
        assert sent["PhoneNumbers"] == params["PhoneNumber"]
        detail = {
            "PhoneNum": params["PhoneNumber"],
            "SendStatus": 3,
            "ErrCode": "DELIVERED",
            "TemplateCode": sent["TemplateCode"],
            "Content": "【某市电子监察】…",
            "SendDate": "2026-12-01 09:00:01",
            "ReceiveDate": "2026-12-01 09:00:05",
            "OutId": sent["OutId"],
        }
        return 200, {
            "Code": "OK",
            "Message": "OK",
            "TotalCount": 1,
            "RequestId": "R4",
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": [detail]},
        }


def sms_only_config(**hours: Any) -> NotifyConfig:
    data: dict[str, Any] = {
        "routing": {
            "warning": [{"roles": ["handling_officer"], "channels": ["sms"]}],
        },
        "retry": {"first_seconds": 60, "max_seconds": 600, "max_attempts": 3},
    }
    if hours:
        data["hours"] = hours
    return parse_notify_config(data, "test")


def provider(api: LocalApi, secret: str = SECRET) -> Providers:
    return Providers(
        sms=AliyunSms(
            access_key_id=KEY_ID,
            access_key_secret=secret,
            sign_name="某市电子监察",
            template_codes=CODES,
            endpoint=api.url,
        )
    )


def rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(notify_outbox).order_by(notify_outbox.c.id)).all()


def enqueue(
    engine: Engine, config: NotifyConfig, *verdicts: dict[str, Any], at: datetime = WORKING_MORNING
) -> None:
    with engine.begin() as conn:
        enqueue_for_verdicts(conn, list(verdicts), at, config)


def test_percent_encoding_matches_the_documented_rules() -> None:
    from collector.notify.providers.aliyun_sms import percent_encode

    for text in ["a b*c~d+e/f=g&h", "中文", "2026-12-01T01:00:00Z", '{"a":"b"}']:
        assert percent_encode(text) == aliyun_encode(text)


def test_a_warning_is_sent_with_a_valid_signature_and_its_receipt_is_stored(
    engine: Engine,
    people: People,
    calendar: WorkCalendar,
    local_api: Callable[[Handler], LocalApi],
) -> None:
    dysms = FakeDysms()
    api = local_api(dysms)
    config = sms_only_config()
    enqueue(engine, config, verdict())
    summary = dispatch_due(engine, provider(api), WORKING_MORNING, calendar=calendar, config=config)
    assert summary.sent == 1
    (sent,) = dysms.sent
    assert sent["PhoneNumbers"] == "13800000001"
    assert sent["TemplateCode"] == "SMS_460001"
    assert json.loads(sent["TemplateParam"]) == {"case_id": "SB-0001", "deadline": "2026-12-02"}
    (row,) = rows(engine)
    assert (row.state, row.attempts, row.provider, row.provider_message_id) == (
        "sent",
        1,
        "aliyun_sms",
        "900001^0",
    )
    assert sent["OutId"] == str(row.id)

    # a gateway error while fetching reports stores nothing and is asked again next time
    dysms.query_fails = True
    assert collect_receipts(engine, provider(api), WORKING_MORNING + timedelta(minutes=4)) == 0
    assert rows(engine)[0].receipt_status is None
    dysms.query_fails = False
    stored = collect_receipts(engine, provider(api), WORKING_MORNING + timedelta(minutes=5))
    assert stored == 1
    (row,) = rows(engine)
    assert row.receipt_status == "delivered"
    assert row.receipt["ErrCode"] == "DELIVERED" and row.receipt["OutId"] == str(row.id)
    assert row.receipt_at.replace(tzinfo=row.receipt_at.tzinfo or UTC) == datetime(
        2026, 12, 1, 1, 0, 5, tzinfo=UTC
    )
    # a second pass asks nothing more: the receipt is already there
    requests = len(api.requests)
    assert collect_receipts(engine, provider(api), WORKING_MORNING + timedelta(minutes=6)) == 0
    assert len(api.requests) == requests


def test_5xx_and_throttling_are_retried_with_backoff_and_the_sms_goes_out_once(
    engine: Engine,
    people: People,
    calendar: WorkCalendar,
    local_api: Callable[[Handler], LocalApi],
) -> None:
    dysms = FakeDysms(["500", "isv.BUSINESS_LIMIT_CONTROL"])
    api = local_api(dysms)
    config = sms_only_config()
    enqueue(engine, config, verdict())
    providers = provider(api)
    t0 = WORKING_MORNING
    assert dispatch_due(engine, providers, t0, calendar=calendar, config=config).retrying == 1
    (row,) = rows(engine)
    assert (row.state, row.attempts) == ("pending", 1)
    assert "http_500" in row.last_error
    # not due yet: the first wait is 60 s
    assert (
        dispatch_due(
            engine, providers, t0 + timedelta(seconds=59), calendar=calendar, config=config
        ).sent
        == 0
    )
    assert len(api.requests) == 1
    assert (
        dispatch_due(
            engine, providers, t0 + timedelta(seconds=60), calendar=calendar, config=config
        ).retrying
        == 1
    )
    (row,) = rows(engine)
    assert (row.state, row.attempts) == ("pending", 2)
    assert "isv.BUSINESS_LIMIT_CONTROL" in row.last_error
    # the second wait doubles: 120 s after the second attempt
    assert (
        dispatch_due(
            engine, providers, t0 + timedelta(seconds=179), calendar=calendar, config=config
        ).sent
        == 0
    )
    assert (
        dispatch_due(
            engine, providers, t0 + timedelta(seconds=180), calendar=calendar, config=config
        ).sent
        == 1
    )
    for later in (200, 4000):
        dispatch_due(
            engine, providers, t0 + timedelta(seconds=later), calendar=calendar, config=config
        )
    (row,) = rows(engine)
    assert (row.state, row.attempts, row.last_error) == ("sent", 3, None)
    assert len(dysms.sent) == 1
    assert len(api.requests) == 3


def test_a_refused_signature_fails_for_good_and_says_why(
    engine: Engine,
    people: People,
    calendar: WorkCalendar,
    local_api: Callable[[Handler], LocalApi],
) -> None:
    api = local_api(FakeDysms())
    config = sms_only_config()
    enqueue(engine, config, verdict())
    summary = dispatch_due(
        engine, provider(api, "wrong"), WORKING_MORNING, calendar=calendar, config=config
    )
    assert summary.failed == 1
    (row,) = rows(engine)
    assert (row.state, row.attempts) == ("failed", 1)
    assert "SignatureDoesNotMatch" in row.last_error


def test_retries_stop_after_max_attempts(
    engine: Engine,
    people: People,
    calendar: WorkCalendar,
    local_api: Callable[[Handler], LocalApi],
) -> None:
    api = local_api(FakeDysms(["Throttling.User"] * 5))
    config = sms_only_config()
    enqueue(engine, config, verdict())
    for minutes in (0, 10, 20, 30):
        dispatch_due(
            engine,
            provider(api),
            WORKING_MORNING + timedelta(minutes=minutes),
            calendar=calendar,
            config=config,
        )
    (row,) = rows(engine)
    assert (row.state, row.attempts) == ("failed", 3)
    assert len(api.requests) == 3


def test_at_20_00_the_sms_is_deferred_to_0830_next_working_day_without_calling_the_gateway(
    engine: Engine,
    people: People,
    calendar: WorkCalendar,
    local_api: Callable[[Handler], LocalApi],
) -> None:
    dysms = FakeDysms()
    api = local_api(dysms)
    config = sms_only_config()
    evening = beijing("2026-09-30 20:00")  # the eve of National Day
    enqueue(engine, config, verdict(), at=evening)
    summary = dispatch_due(engine, provider(api), evening, calendar=calendar, config=config)
    assert (summary.sent, summary.deferred) == (0, 1)
    (row,) = rows(engine)
    assert (row.state, row.deferred_reason) == ("deferred", "outside_hours")
    assert row.next_attempt_at.replace(tzinfo=row.next_attempt_at.tzinfo or UTC) == beijing(
        "2026-10-08 08:30"
    )
    assert api.requests == []
    holiday = beijing("2026-10-05 10:00")
    assert dispatch_due(engine, provider(api), holiday, calendar=calendar, config=config).sent == 0
    morning = beijing("2026-10-08 08:30")
    assert dispatch_due(engine, provider(api), morning, calendar=calendar, config=config).sent == 1
    assert len(dysms.sent) == 1


def test_the_daily_cap_defers_the_rest_to_the_next_day(
    engine: Engine,
    people: People,
    calendar: WorkCalendar,
    local_api: Callable[[Handler], LocalApi],
) -> None:
    dysms = FakeDysms()
    api = local_api(dysms)
    config = sms_only_config(daily_cap=2)
    enqueue(engine, config, *(verdict(n, case_id=f"SB-{n}") for n in range(1, 4)))
    summary = dispatch_due(engine, provider(api), WORKING_MORNING, calendar=calendar, config=config)
    assert (summary.sent, summary.deferred) == (2, 1)
    # still capped later the same day
    afternoon = beijing("2026-12-01 15:00")
    assert (
        dispatch_due(engine, provider(api), afternoon, calendar=calendar, config=config).sent == 0
    )
    capped = [r for r in rows(engine) if r.state == "deferred"]
    assert [r.deferred_reason for r in capped] == ["daily_cap"]
    assert capped[0].next_attempt_at.replace(
        tzinfo=capped[0].next_attempt_at.tzinfo or UTC
    ) == beijing("2026-12-02 08:30")
    assert (
        dispatch_due(
            engine, provider(api), beijing("2026-12-02 08:30"), calendar=calendar, config=config
        ).sent
        == 1
    )
    assert len(dysms.sent) == 3


def test_two_dispatchers_at_once_send_each_message_once(
    engine: Engine,
    people: People,
    calendar: WorkCalendar,
    local_api: Callable[[Handler], LocalApi],
) -> None:
    dysms = FakeDysms()
    api = local_api(dysms)
    config = sms_only_config(daily_cap=100)
    enqueue(engine, config, *(verdict(n, case_id=f"SB-{n}") for n in range(1, 31)))
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run() -> None:
        try:
            barrier.wait()
            dispatch_due(
                engine, provider(api), WORKING_MORNING, calendar=calendar, config=config, limit=10
            )
            dispatch_due(
                engine, provider(api), WORKING_MORNING, calendar=calendar, config=config, limit=10
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    out_ids = sorted(int(s["OutId"]) for s in dysms.sent)
    assert out_ids == sorted({int(s["OutId"]) for s in dysms.sent})
    assert len(out_ids) == 30
    assert {r.state for r in rows(engine)} == {"sent"}


@pytest.mark.parametrize("phone", ["+85291234567"])
def test_numbers_outside_the_mainland_keep_their_country_code(phone: str) -> None:
    from collector.notify.providers.aliyun_sms import domestic_number

    assert domestic_number(phone) == "85291234567"
    assert domestic_number("+8613800000001") == "13800000001"
