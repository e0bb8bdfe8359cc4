"""WeCom (企业微信) group robot webhook: POST {endpoint}?key=...; msgtype markdown; errcode 0."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import NotifyConfigError
from .base import Outgoing, SendResult
from .transport import post_bot_message

DEFAULT_ENDPOINT = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
RETRYABLE_ERRCODES = {45009, -1}  # over the 20-per-minute limit; system busy


@dataclass
class WeComBot:
    key: str
    endpoint: str = DEFAULT_ENDPOINT
    name: str = field(default="wecom")

    @classmethod
    def from_config(cls, bot: str, table: Mapping[str, Any]) -> WeComBot:
        if not table.get("key"):
            raise NotifyConfigError(
                f"[bots.{bot}] (wecom) needs key: the value after key= in the robot's webhook "
                "address / 群机器人 Webhook 地址中 key= 之后的部分"
            )
        return cls(
            key=str(table["key"]),
            endpoint=str(table.get("endpoint", DEFAULT_ENDPOINT)),
            name=f"wecom:{bot}",
        )

    def send(self, message: Outgoing) -> SendResult:
        payload = {"msgtype": "markdown", "markdown": {"content": message.body}}
        body = post_bot_message(
            self.name, self.endpoint, {"key": self.key}, payload, RETRYABLE_ERRCODES
        )
        return SendResult(self.name, f"wecom-{message.id}", body)
