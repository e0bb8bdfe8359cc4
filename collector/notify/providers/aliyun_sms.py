"""Alibaba Cloud SMS (dysmsapi, API version 2017-05-25), RPC style with signature v1.

Every request carries the common parameters (AccessKeyId, Action, Format, RegionId,
SignatureMethod=HMAC-SHA1, SignatureNonce, SignatureVersion=1.0, Timestamp in UTC, Version)
and is signed: sort the parameters, percent-encode names and values (RFC 3986: only
A-Z a-z 0-9 - _ . ~ stay), join as k=v&..., StringToSign = "POST&%2F&" + encode(that), and
Signature = base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from ...clock import SHANGHAI
from ..errors import NotifyConfigError, ProviderError
from .base import Outgoing, Receipt, SendResult
from .transport import call_json

API_VERSION = "2017-05-25"
DEFAULT_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
# Codes after which the same request may succeed later: flow control and server trouble.
RETRYABLE = ("Throttling", "isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "ServiceUnavailable")


def percent_encode(value: str) -> str:
    """Alibaba Cloud's encoding: RFC 3986 unreserved characters stay, all else is %XX."""
    return quote(value, safe="-_.~")


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    canonical = "&".join(
        f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items())
    )
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def sign(secret: str, method: str, params: Mapping[str, str]) -> str:
    digest = hmac.new(
        (secret + "&").encode("utf-8"),
        string_to_sign(method, params).encode("utf-8"),
        hashlib.sha1,
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def domestic_number(e164: str) -> str:
    """Alibaba Cloud takes mainland numbers as 11 digits, others as country code + number."""
    return e164[3:] if e164.startswith("+86") else e164.lstrip("+")


@dataclass
class AliyunSms:
    access_key_id: str
    access_key_secret: str
    sign_name: str
    template_codes: dict[str, str]
    endpoint: str = DEFAULT_ENDPOINT
    region_id: str = "cn-hangzhou"
    name: str = field(default="aliyun_sms")

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> AliyunSms:
        missing = [
            k
            for k in ("access_key_id", "access_key_secret", "sign_name", "template_codes")
            if not table.get(k)
        ]
        if missing:
            raise NotifyConfigError(
                f"[sms.aliyun] lacks {', '.join(missing)}: copy the AccessKey from the RAM "
                "console and the approved SignName and TemplateCodes from the SMS console"
            )
        return cls(
            access_key_id=str(table["access_key_id"]),
            access_key_secret=str(table["access_key_secret"]),
            sign_name=str(table["sign_name"]),
            template_codes={str(k): str(v) for k, v in dict(table["template_codes"]).items()},
            endpoint=str(table.get("endpoint", DEFAULT_ENDPOINT)),
            region_id=str(table.get("region_id", "cn-hangzhou")),
        )

    def _call(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        signed = {
            "AccessKeyId": self.access_key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": self.region_id,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
            **params,
        }
        signed["Signature"] = sign(self.access_key_secret, "POST", signed)
        _status, body = call_json(self.name, self.endpoint, data=signed)
        code = str(body.get("Code", ""))
        if code != "OK":
            raise ProviderError(
                self.name,
                code or "no_code",
                f"{body.get('Message', '')} (RequestId {body.get('RequestId', '?')})",
                retryable=code.startswith(RETRYABLE),
            )
        return body

    def send(self, message: Outgoing) -> SendResult:
        template = self.template_codes.get(message.kind)
        if not template:
            raise ProviderError(
                self.name,
                "no_template",
                f"no TemplateCode for {message.kind}: add it to [sms.aliyun.template_codes]",
                retryable=False,
            )
        body = self._call(
            "SendSms",
            {
                "PhoneNumbers": domestic_number(message.address),
                "SignName": self.sign_name,
                "TemplateCode": template,
                "TemplateParam": json.dumps(dict(message.params), ensure_ascii=False),
                # Echoed in receipts, so a report always finds its outbox row.
                "OutId": str(message.id),
            },
        )
        return SendResult(self.name, str(body.get("BizId", "")), body)

    def receipts(self, sent: list[Outgoing]) -> list[Receipt]:
        found: list[Receipt] = []
        for message in sent:
            if not message.message_id or message.sent_at is None:
                continue
            body = self._call(
                "QuerySendDetails",
                {
                    "PhoneNumber": domestic_number(message.address),
                    "BizId": message.message_id,
                    "SendDate": message.sent_at.astimezone(SHANGHAI).strftime("%Y%m%d"),
                    "PageSize": "10",
                    "CurrentPage": "1",
                },
            )
            details = (body.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
            for detail in details:
                # SendStatus: 1 waiting for a report, 2 failed, 3 delivered.
                status = {3: "delivered", 2: "undelivered"}.get(int(detail.get("SendStatus", 1)))
                if status is None:
                    continue
                at = None
                if detail.get("ReceiveDate"):
                    at = datetime.strptime(detail["ReceiveDate"], "%Y-%m-%d %H:%M:%S").replace(
                        tzinfo=SHANGHAI
                    )
                found.append(Receipt(message.message_id, status, at, dict(detail)))
                break
        return found
