"""Notification providers and :func:`build_providers` from the notify configuration."""

from __future__ import annotations

from ..config import NotifyConfig
from ..errors import NotifyConfigError
from .aliyun_sms import AliyunSms
from .base import Outgoing, Provider, Providers, Receipt, SendResult, SmsProvider
from .dingtalk import DingTalkBot
from .smtp_email import SmtpEmail
from .tencent_sms import TencentSms
from .wecom import WeComBot


def build_providers(config: NotifyConfig) -> Providers:
    """Providers named in the configuration; unconfigured channels stay None (messages for
    them wait in the outbox and ``notify list`` shows why)."""
    providers = Providers()
    if config.sms:
        choice = config.sms.get("provider")
        if choice == "aliyun":
            providers.sms = AliyunSms.from_config(config.sms.get("aliyun", {}))
        elif choice == "tencent":
            providers.sms = TencentSms.from_config(config.sms.get("tencent", {}))
        else:
            raise NotifyConfigError(
                f'[sms] provider = {choice!r}: use "aliyun" or "tencent" and fill the '
                "matching [sms.aliyun] / [sms.tencent] table"
            )
    if config.email:
        providers.email = SmtpEmail.from_config(config.email)
    for bot, table in config.bots.items():
        kind = table.get("type")
        if kind == "dingtalk":
            providers.bots[bot] = DingTalkBot.from_config(bot, table)
        elif kind == "wecom":
            providers.bots[bot] = WeComBot.from_config(bot, table)
        else:
            raise NotifyConfigError(f'[bots.{bot}] type = {kind!r}: use "dingtalk" or "wecom"')
    return providers


__all__ = [
    "AliyunSms",
    "DingTalkBot",
    "Outgoing",
    "Provider",
    "Providers",
    "Receipt",
    "SendResult",
    "SmsProvider",
    "SmtpEmail",
    "TencentSms",
    "WeComBot",
    "build_providers",
]
