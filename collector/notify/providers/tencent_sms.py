"""Tencent Cloud SMS (API 3.0, version 2021-01-11) signed with TC3-HMAC-SHA256.

CanonicalRequest = POST \\n / \\n (empty query) \\n canonical headers (content-type, host,
x-tc-action; lower-case, each line ending in \\n) \\n signed header names \\n hex(SHA256(body)).
StringToSign = "TC3-HMAC-SHA256" \\n timestamp \\n date/sms/tc3_request \\n
hex(SHA256(CanonicalRequest)); the key is derived HMAC("TC3"+SecretKey, date) -> service ->
"tc3_request", and the Authorization header names Credential, SignedHeaders and Signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from ..errors import NotifyConfigError, ProviderError
from .base import Outgoing, Receipt, SendResult
from .transport import call_json

API_VERSION = "2021-01-11"
SERVICE = "sms"
DEFAULT_ENDPOINT = "https://sms.tencentcloudapi.com/"
CONTENT_TYPE = "application/json; charset=utf-8"
RETRYABLE = ("RequestLimitExceeded", "InternalError", "LimitExceeded", "FailedOperation.Busy")


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def canonical_request(host: str, action: str, payload: bytes) -> tuple[str, str]:
    """(CanonicalRequest, SignedHeaders) of a JSON POST to '/'."""
    headers = f"content-type:{CONTENT_TYPE}\nhost:{host}\nx-tc-action:{action.lower()}\n"
    signed_headers = "content-type;host;x-tc-action"
    request = "\n".join(
        ["POST", "/", "", headers, signed_headers, hashlib.sha256(payload).hexdigest()]
    )
    return request, signed_headers


def tc3_signature(secret_key: str, timestamp: int, canonical: str) -> str:
    day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{day}/{SERVICE}/tc3_request"
    to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            str(timestamp),
            scope,
            hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        ]
    )
    key = _hmac(("TC3" + secret_key).encode("utf-8"), day)
    key = _hmac(key, SERVICE)
    key = _hmac(key, "tc3_request")
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass
class TencentSms:
    secret_id: str
    secret_key: str
    sms_sdk_app_id: str
    sign_name: str
    template_ids: dict[str, str]
    endpoint: str = DEFAULT_ENDPOINT
    region: str = "ap-guangzhou"
    #: Host used in the signature; the real API's host unless a proxy says otherwise.
    host: str = ""
    name: str = field(default="tencent_sms")

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> TencentSms:
        needed = ("secret_id", "secret_key", "sms_sdk_app_id", "sign_name", "template_ids")
        missing = [k for k in needed if not table.get(k)]
        if missing:
            raise NotifyConfigError(
                f"[sms.tencent] lacks {', '.join(missing)}: take SecretId/SecretKey from the "
                "API key console and SdkAppId, SignName and TemplateIds from the SMS console"
            )
        return cls(
            secret_id=str(table["secret_id"]),
            secret_key=str(table["secret_key"]),
            sms_sdk_app_id=str(table["sms_sdk_app_id"]),
            sign_name=str(table["sign_name"]),
            template_ids={str(k): str(v) for k, v in dict(table["template_ids"]).items()},
            endpoint=str(table.get("endpoint", DEFAULT_ENDPOINT)),
            region=str(table.get("region", "ap-guangzhou")),
            host=str(table.get("host", "")),
        )

    def _call(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        payload = json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        host = self.host or (urlsplit(self.endpoint).netloc)
        timestamp = int(time.time())
        canonical, signed_headers = canonical_request(host, action, payload)
        day = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        authorization = (
            f"TC3-HMAC-SHA256 Credential={self.secret_id}/{day}/{SERVICE}/tc3_request, "
            f"SignedHeaders={signed_headers}, "
            f"Signature={tc3_signature(self.secret_key, timestamp, canonical)}"
        )
        headers = {
            "Authorization": authorization,
            "Content-Type": CONTENT_TYPE,
            "Host": host,
            "X-TC-Action": action,
            "X-TC-Version": API_VERSION,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": self.region,
        }
        _status, body = call_json(self.name, self.endpoint, content=payload, headers=headers)
        response = body.get("Response")
        if not isinstance(response, dict):
            raise ProviderError(
                self.name, "bad_answer", f"no Response in {body!r}", retryable=False
            )
        error = response.get("Error")
        if isinstance(error, dict):
            code = str(error.get("Code", ""))
            raise ProviderError(
                self.name,
                code,
                f"{error.get('Message', '')} (RequestId {response.get('RequestId', '?')})",
                retryable=code.startswith(RETRYABLE),
            )
        return response

    def send(self, message: Outgoing) -> SendResult:
        template = self.template_ids.get(message.kind)
        if not template:
            raise ProviderError(
                self.name,
                "no_template",
                f"no TemplateId for {message.kind}: add it to [sms.tencent.template_ids]",
                retryable=False,
            )
        response = self._call(
            "SendSms",
            {
                "PhoneNumberSet": [message.address],
                "SmsSdkAppId": self.sms_sdk_app_id,
                "SignName": self.sign_name,
                "TemplateId": template,
                "TemplateParamSet": [value for _name, value in message.params],
                "SessionContext": str(message.id),
            },
        )
        statuses = response.get("SendStatusSet") or []
        status = statuses[0] if statuses else {}
        code = str(status.get("Code", ""))
        if code != "Ok":
            raise ProviderError(
                self.name,
                code or "no_status",
                str(status.get("Message", "no SendStatusSet in the answer")),
                retryable=code.startswith(RETRYABLE),
            )
        return SendResult(self.name, str(status.get("SerialNo", "")), response)

    def receipts(self, sent: list[Outgoing]) -> list[Receipt]:
        if not sent:
            return []
        response = self._call(
            "PullSmsSendStatus", {"SmsSdkAppId": self.sms_sdk_app_id, "Limit": 100}
        )
        wanted = {m.message_id for m in sent if m.message_id}
        found: list[Receipt] = []
        for report in response.get("PullSmsSendStatusSet") or []:
            serial = str(report.get("SerialNo", ""))
            if serial not in wanted:
                continue
            status = "delivered" if report.get("ReportStatus") == "SUCCESS" else "undelivered"
            received = report.get("UserReceiveTime")
            at = datetime.fromtimestamp(int(received), UTC) if received else None
            found.append(Receipt(serial, status, at, dict(report)))
        return found
