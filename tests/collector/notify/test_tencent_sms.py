"""Tencent Cloud SMS against a local server that checks requests like sms.tencentcloudapi.com:
the X-TC-* headers, the body fields, and the TC3-HMAC-SHA256 signature recomputed here."""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from collector.clock import WorkCalendar
from collector.notify import (
    collect_receipts,
    dispatch_due,
    enqueue_for_verdicts,
    parse_notify_config,
)
from collector.notify.providers import Providers, TencentSms
from collector.store.tables import notify_outbox

from .conftest import WORKING_MORNING, Handler, LocalApi, People, Request, verdict

SECRET_ID = "AKIDtestSecretId"
SECRET_KEY = "testSecretKey"
APP_ID = "1400006666"
TEMPLATES = {"warning": "1110001", "yellow": "1110002", "red": "1110003"}
AUTH = re.compile(
    r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d\d-\d\d)/sms/tc3_request, "
    r"SignedHeaders=(?P<headers>[a-z;-]+), Signature=(?P<sig>[0-9a-f]{64})"
)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def recompute(request: Request, secret_key: str, signed_headers: str, date: str) -> str:
    """TC3-HMAC-SHA256 from the request as received, following the published steps."""
    lines = []
    for name in signed_headers.split(";"):
        value = request.headers[name].strip()
        lines.append(f"{name}:{value.lower() if name == 'x-tc-action' else value}\n")
    canonical_headers = "".join(lines)
    canonical = f"POST\n/\n\n{canonical_headers}\n{signed_headers}\n{sha256_hex(request.body)}"
    string_to_sign = (
        f"TC3-HMAC-SHA256\n{request.headers['x-tc-timestamp']}\n{date}/sms/tc3_request\n"
        f"{sha256_hex(canonical.encode())}"
    )

    def mac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    signing = mac(mac(mac(("TC3" + secret_key).encode(), date), "sms"), "tc3_request")
    return hmac.new(signing, string_to_sign.encode(), hashlib.sha256).hexdigest()


class FakeTencentSms:
    def __init__(self, script: list[str] | None = None) -> None:
        self.script = list(script or [])
        self.sent: list[dict[str, Any]] = []
        self.serials: list[tuple[str, str, str]] = []  # serial, phone, session context
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> tuple[int, Any]:
        h = request.headers
        for name in (
            "authorization",
            "x-tc-action",
            "x-tc-version",
            "x-tc-timestamp",
            "x-tc-region",
        ):
            assert h.get(name), f"missing header {name}"
        assert h["x-tc-version"] == "2021-01-11"
        assert h["x-tc-region"] == "ap-guangzhou"
        assert h["content-type"] == "application/json; charset=utf-8"
        assert abs(int(h["x-tc-timestamp"]) - time.time()) < 300
        match = AUTH.fullmatch(h["authorization"])
        assert match, h["authorization"]
        assert {"content-type", "host"} <= set(match["headers"].split(";"))
        assert match["date"] == datetime.fromtimestamp(int(h["x-tc-timestamp"]), UTC).strftime(
            "%Y-%m-%d"
        )
        if match["id"] != SECRET_ID or match["sig"] != recompute(
            request, SECRET_KEY, match["headers"], match["date"]
        ):
            return 200, {
                "Response": {
                    "Error": {"Code": "AuthFailure.SignatureFailure", "Message": "签名错误"},
                    "RequestId": "r0",
                }
            }
        body = request.json()
        if h["x-tc-action"] == "SendSms":
            return self.send(body)
        if h["x-tc-action"] == "PullSmsSendStatus":
            assert body == {"SmsSdkAppId": APP_ID, "Limit": 100}
            return 200, {"Response": {"PullSmsSendStatusSet": self.reports(), "RequestId": "r9"}}
        return 200, {
            "Response": {"Error": {"Code": "InvalidAction", "Message": "?"}, "RequestId": "r1"}
        }

    def send(self, body: dict[str, Any]) -> tuple[int, Any]:
        assert body["SmsSdkAppId"] == APP_ID
        assert body["SignName"] == "某市电子监察"
        assert body["TemplateId"] in TEMPLATES.values()
        assert isinstance(body["TemplateParamSet"], list)
        assert all(isinstance(p, str) for p in body["TemplateParamSet"])
        (phone,) = body["PhoneNumberSet"]
        assert re.fullmatch(r"\+861\d{10}", phone)
        with self.lock:
            code = self.script.pop(0) if self.script else "Ok"
            if code == "RequestLimitExceeded":
                return 200, {
                    "Response": {"Error": {"Code": code, "Message": "too many"}, "RequestId": "r2"}
                }
            if code == "Ok":
                self.sent.append(body)
                serial = f"2640:{len(self.sent):020d}"
                self.serials.append((serial, phone, body["SessionContext"]))
            else:
                serial = ""
        return 200, {
            "Response": {
                "SendStatusSet": [
                    {
                        "SerialNo": serial,
                        "PhoneNumber": phone,
                        "Fee": 1,
                        "SessionContext": body["SessionContext"],
                        "Code": code,
                        "Message": "send success" if code == "Ok" else "limit",
                        "IsoCode": "CN",
                    }
                ],
                "RequestId": "r3",
            }
        }

    def reports(self) -> list[dict[str, Any]]:
        return (
            [
                {
                    "UserReceiveTime": 1796088005,  # 2026-12-01 01:20:05 UTC
                    "CountryCode": "86",
                    "SubscriberNumber": phone[3:],
                    "PhoneNumber": phone,
                    "SerialNo": serial,
                    "ReportStatus": "SUCCESS",
                    "Description": "DELIVRD",
                    "SessionContext": context,
                }
                for serial, phone, context in self.serials
            ]
            + [
                {  # a report of a message this collector never sent is ignored
                    "UserReceiveTime": 1796088005,
                    "CountryCode": "86",
                    "SubscriberNumber": "13900000000",
                    "PhoneNumber": "+8613900000000",
                    "SerialNo": "2640:other",
                    "ReportStatus": "FAIL",
                    "Description": "UNDELIV",
                    "SessionContext": "",
                }
            ]
        )


def providers(api: LocalApi, secret_key: str = SECRET_KEY) -> Providers:
    return Providers(
        sms=TencentSms(
            secret_id=SECRET_ID,
            secret_key=secret_key,
            sms_sdk_app_id=APP_ID,
            sign_name="某市电子监察",
            template_ids=TEMPLATES,
            endpoint=api.url,
        )
    )


CONFIG = parse_notify_config(
    {"routing": {"yellow": [{"roles": ["department_leader"], "channels": ["sms"]}]}}, "test"
)


def rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(select(notify_outbox).order_by(notify_outbox.c.id)).all()


def test_a_yellow_card_sms_is_signed_with_tc3_and_its_receipt_is_pulled(
    engine: Engine,
    people: People,
    calendar: WorkCalendar,
    local_api: Callable[[Handler], LocalApi],
) -> None:
    fake = FakeTencentSms()
    api = local_api(fake)
    with engine.begin() as conn:
        enqueue_for_verdicts(conn, [verdict(kind="yellow")], WORKING_MORNING, CONFIG)
    assert (
        dispatch_due(engine, providers(api), WORKING_MORNING, calendar=calendar, config=CONFIG).sent
        == 1
    )
    (body,) = fake.sent
    assert body["PhoneNumberSet"] == ["+8613800000003"]
    assert body["TemplateId"] == "1110002"
    # positional, in the order of the template's placeholders
    assert body["TemplateParamSet"] == ["市市场监督管理局", "SB-0001", "2026-12-02"]
    (row,) = rows(engine)
    assert (row.state, row.provider, row.provider_message_id) == (
        "sent",
        "tencent_sms",
        fake.serials[0][0],
    )
    assert body["SessionContext"] == str(row.id)

    assert collect_receipts(engine, providers(api), WORKING_MORNING + timedelta(minutes=30)) == 1
    (row,) = rows(engine)
    assert row.receipt_status == "delivered"
    assert row.receipt["Description"] == "DELIVRD"
    assert row.receipt_at.replace(tzinfo=row.receipt_at.tzinfo or UTC) == datetime(
        2026, 12, 1, 1, 20, 5, tzinfo=UTC
    )


def test_request_limit_is_retried_and_a_per_number_limit_too(
    engine: Engine,
    people: People,
    calendar: WorkCalendar,
    local_api: Callable[[Handler], LocalApi],
) -> None:
    fake = FakeTencentSms(["RequestLimitExceeded", "LimitExceeded.PhoneNumberThirtySecondLimit"])
    api = local_api(fake)
    with engine.begin() as conn:
        enqueue_for_verdicts(conn, [verdict(kind="yellow")] * 3, WORKING_MORNING, CONFIG)
    for seconds in (0, 60, 180):
        dispatch_due(
            engine,
            providers(api),
            WORKING_MORNING + timedelta(seconds=seconds),
            calendar=calendar,
            config=CONFIG,
        )
    (row,) = rows(engine)
    assert (row.state, row.attempts) == ("sent", 3)
    assert len(fake.sent) == 1 and len(api.requests) == 3


def test_a_wrong_secret_key_fails_with_the_gateways_code(
    engine: Engine,
    people: People,
    calendar: WorkCalendar,
    local_api: Callable[[Handler], LocalApi],
) -> None:
    api = local_api(FakeTencentSms())
    with engine.begin() as conn:
        enqueue_for_verdicts(conn, [verdict(kind="yellow")], WORKING_MORNING, CONFIG)
    assert (
        dispatch_due(
            engine, providers(api, "nope"), WORKING_MORNING, calendar=calendar, config=CONFIG
        ).failed
        == 1
    )
    (row,) = rows(engine)
    assert row.state == "failed" and "AuthFailure.SignatureFailure" in row.last_error
