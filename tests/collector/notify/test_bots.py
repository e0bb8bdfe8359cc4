"""DingTalk and WeCom group robots against local webhooks that check the request: DingTalk's
sign recomputed from the secret and timestamp, WeCom's key, and each one's JSON body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from collector.clock import WorkCalendar
from collector.notify import ProviderError, dispatch_due, enqueue_for_verdicts, parse_notify_config
from collector.notify.providers import DingTalkBot, Providers, WeComBot, build_providers
from collector.notify.providers.base import Outgoing
from collector.store.tables import notify_outbox

from .conftest import WORKING_MORNING, Handler, LocalApi, People, Request, verdict

TOKEN = "ding-access-token"
SECRET = "SEC0123456789abcdef"
KEY = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
MESSAGE = Outgoing(
    id=7,
    channel="bot",
    address="bureau",
    kind="anomaly",
    subject="异常",
    body="**异常** 市场监管局办件SB-1：A01",
    params=[],
)


def dingtalk_webhook(script: list[int]) -> Handler:
    def handle(request: Request) -> tuple[int, Any]:
        assert request.path == "/robot/send"
        assert request.query["access_token"] == TOKEN
        timestamp = int(request.query["timestamp"])
        assert abs(timestamp - time.time() * 1000) < 3600 * 1000  # DingTalk allows an hour
        text = f"{timestamp}\n{SECRET}".encode()
        expected = base64.b64encode(
            hmac.new(SECRET.encode(), text, hashlib.sha256).digest()
        ).decode()
        if request.query["sign"] != expected:
            return 200, {"errcode": 310000, "errmsg": "sign not match"}
        body = request.json()
        assert body["msgtype"] == "markdown"
        assert body["markdown"]["title"] and body["markdown"]["text"]
        errcode = script.pop(0) if script else 0
        return 200, {"errcode": errcode, "errmsg": "ok" if errcode == 0 else "send too fast"}

    return handle


def wecom_webhook(script: list[int], received: list[dict[str, Any]]) -> Handler:
    def handle(request: Request) -> tuple[int, Any]:
        assert request.path == "/cgi-bin/webhook/send"
        if request.query.get("key") != KEY:
            return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
        body = request.json()
        assert body["msgtype"] == "markdown" and body["markdown"]["content"]
        errcode = script.pop(0) if script else 0
        if errcode == 0:
            received.append(body)
        return 200, {
            "errcode": errcode,
            "errmsg": "ok" if errcode == 0 else "api freq out of limit",
        }

    return handle


def test_dingtalk_signs_with_timestamp_and_secret(local_api: Callable[[Handler], LocalApi]) -> None:
    api = local_api(dingtalk_webhook([]))
    bot = DingTalkBot(access_token=TOKEN, secret=SECRET, endpoint=api.url + "robot/send")
    result = bot.send(MESSAGE)
    assert result.response == {"errcode": 0, "errmsg": "ok"}
    (request,) = api.requests
    assert request.json()["markdown"]["text"] == MESSAGE.body


def test_dingtalk_wrong_secret_is_not_retried(local_api: Callable[[Handler], LocalApi]) -> None:
    api = local_api(dingtalk_webhook([]))
    bot = DingTalkBot(access_token=TOKEN, secret="wrong", endpoint=api.url + "robot/send")
    with pytest.raises(ProviderError) as info:
        bot.send(MESSAGE)
    assert info.value.code == "310000" and not info.value.retryable


def test_dingtalk_too_fast_is_retryable(local_api: Callable[[Handler], LocalApi]) -> None:
    api = local_api(dingtalk_webhook([130101]))
    bot = DingTalkBot(access_token=TOKEN, secret=SECRET, endpoint=api.url + "robot/send")
    with pytest.raises(ProviderError) as info:
        bot.send(MESSAGE)
    assert info.value.retryable
    assert bot.send(MESSAGE).response["errcode"] == 0


def test_wecom_wrong_key_is_refused(local_api: Callable[[Handler], LocalApi]) -> None:
    api = local_api(wecom_webhook([], []))
    bot = WeComBot(key="other", endpoint=api.url + "cgi-bin/webhook/send")
    with pytest.raises(ProviderError) as info:
        bot.send(MESSAGE)
    assert info.value.code == "93000" and not info.value.retryable


def test_an_anomaly_reaches_the_wecom_group_once_after_a_rate_limit(
    engine: Engine,
    people: People,
    calendar: WorkCalendar,
    local_api: Callable[[Handler], LocalApi],
) -> None:
    received: list[dict[str, Any]] = []
    api = local_api(wecom_webhook([45009], received))
    config = parse_notify_config(
        {
            "routing": {"anomaly": [{"roles": ["bureau_supervisor"], "channels": ["bot"]}]},
            "bots": {
                "bureau": {
                    "type": "wecom",
                    "key": KEY,
                    "endpoint": api.url + "cgi-bin/webhook/send",
                }
            },
        },
        "test",
    )
    providers: Providers = build_providers(config)
    with engine.begin() as conn:
        enqueue_for_verdicts(conn, [verdict(kind="anomaly", code="A01")], WORKING_MORNING, config)
    # bots are not held to office hours: a Sunday night works
    sunday_night = WORKING_MORNING + timedelta(days=5, hours=14)
    for minutes in (0, 1, 5):
        dispatch_due(
            engine,
            providers,
            sunday_night + timedelta(minutes=minutes),
            calendar=calendar,
            config=config,
        )
    with engine.connect() as conn:
        (row,) = conn.execute(select(notify_outbox)).all()
    assert (row.state, row.attempts, row.provider) == ("sent", 2, "wecom:bureau")
    assert received == [
        {
            "msgtype": "markdown",
            "markdown": {
                "content": "**异常** 市市场监督管理局办件SB-0001：A01（anomaly.promised）"
            },
        }
    ]


def test_a_bot_without_a_configuration_waits_and_says_so(
    engine: Engine, people: People, calendar: WorkCalendar
) -> None:
    config = parse_notify_config(
        {"routing": {"anomaly": [{"roles": ["bureau_supervisor"], "channels": ["bot"]}]}}, "test"
    )
    with engine.begin() as conn:
        enqueue_for_verdicts(conn, [verdict(kind="anomaly", code="A01")], WORKING_MORNING, config)
    summary = dispatch_due(engine, Providers(), WORKING_MORNING, calendar=calendar, config=config)
    assert summary.no_provider == 1
    with engine.connect() as conn:
        (row,) = conn.execute(select(notify_outbox)).all()
    assert row.state == "pending" and "no provider configured for bot bureau" in row.last_error
