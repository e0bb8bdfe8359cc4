"""DingTalk custom group robot (自定义机器人) webhook.

POST {endpoint}?access_token=...; with a signing secret also &timestamp=<ms>&sign=<urlencoded
base64(HMAC-SHA256(secret, timestamp + "\\n" + secret))>. Body: msgtype markdown; errcode 0.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import NotifyConfigError
from .base import Outgoing, SendResult
from .transport import post_bot_message

DEFAULT_ENDPOINT = "https://oapi.dingtalk.com/robot/send"
RETRYABLE_ERRCODES = {130101, -1}  # sending too fast; system busy


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    text = f"{timestamp_ms}\n{secret}"
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass
class DingTalkBot:
    access_token: str
    secret: str = ""
    endpoint: str = DEFAULT_ENDPOINT
    name: str = field(default="dingtalk")

    @classmethod
    def from_config(cls, bot: str, table: Mapping[str, Any]) -> DingTalkBot:
        if not table.get("access_token"):
            raise NotifyConfigError(
                f"[bots.{bot}] (dingtalk) needs access_token: the value after access_token= in "
                "the robot's webhook address; add secret when the robot uses 加签"
            )
        return cls(
            access_token=str(table["access_token"]),
            secret=str(table.get("secret", "")),
            endpoint=str(table.get("endpoint", DEFAULT_ENDPOINT)),
            name=f"dingtalk:{bot}",
        )

    def send(self, message: Outgoing) -> SendResult:
        params = {"access_token": self.access_token}
        if self.secret:
            timestamp = int(time.time() * 1000)
            params["timestamp"] = str(timestamp)
            params["sign"] = dingtalk_sign(self.secret, timestamp)  # httpx URL-encodes it
        payload = {
            "msgtype": "markdown",
            "markdown": {"title": message.subject or "电子监察", "text": message.body},
        }
        body = post_bot_message(self.name, self.endpoint, params, payload, RETRYABLE_ERRCODES)
        return SendResult(self.name, f"dingtalk-{message.id}", body)
