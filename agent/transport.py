"""The HTTP client to the collector: TLS settings from the config, errors converted.

Tests pass their own ``transport`` (httpx.MockTransport, an ASGI app, ...); nothing else
about the client changes.
"""

from __future__ import annotations

import gzip
import json
import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from exchange_spec import protocol

from . import __version__
from .config import CollectorSection
from .errors import ConfigError, PushError, PushRefused

USER_AGENT = f"esup-agent/{__version__}"


def build_client(
    collector: CollectorSection, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    verify: ssl.SSLContext | bool = True
    if collector.url.startswith("https://"):
        try:
            context = ssl.create_default_context(
                cafile=str(collector.ca_file) if collector.ca_file else None
            )
            if collector.client_cert:
                context.load_cert_chain(
                    str(collector.client_cert),
                    str(collector.client_key) if collector.client_key else None,
                )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"cannot load the TLS files of [collector] (ca_file={collector.ca_file}, "
                f"client_cert={collector.client_cert}): {exc}. Fix: check the paths and that "
                "the files are PEM / 无法加载 TLS 证书文件，请检查路径与格式"
            ) from exc
        verify = context
    return httpx.Client(
        base_url=collector.url,
        timeout=collector.timeout_seconds,
        verify=verify,
        transport=transport,
        headers={"User-Agent": USER_AGENT},
    )


class EnvelopeRefused(PushRefused):
    """A 4xx for a whole envelope, with the collector's clock when it told us and the JSON
    answer (None for a page that is not JSON, such as a proxy's), where a signed refusal is."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        collector_time: datetime | None,
        answer: Any = None,
    ) -> None:
        super().__init__(status, code, message)
        self.collector_time = collector_time
        self.answer = answer


def post_json(
    client: httpx.Client,
    path: str,
    body: Any,
    *,
    compress: bool = False,
    signing_key: Any = None,
) -> tuple[httpx.Response, Any]:
    """POST JSON; returns the response and its JSON body.

    With ``signing_key`` (the agent's Ed25519 key) ``body`` is a signed envelope and the
    request carries the protocol's signature headers over the bytes as sent, with the
    envelope's agent id and created_at (which already has the learnt clock offset).

    Raises PushError for anything worth retrying (network, 5xx, garbage) and PushRefused
    for a 4xx, carrying the collector's error code."""
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if compress:
        content = gzip.compress(content, compresslevel=6)
        headers["Content-Encoding"] = "gzip"
    if signing_key is not None:
        manifest = body["manifest"]
        headers.update(
            protocol.request_headers(
                signing_key,
                manifest["agent_id"],
                "POST",
                path,
                content,
                encoding=headers.get("Content-Encoding", "identity"),
                time=manifest["created_at"],
            )
        )
    try:
        response = client.post(path, content=content, headers=headers)
    except httpx.TransportError as exc:
        raise PushError(
            f"cannot reach the collector at {client.base_url} ({type(exc).__name__}: {exc}); "
            "will retry / 无法连接监察中心，将自动重试"
        ) from exc
    if response.status_code >= 500:
        raise PushError(
            f"the collector answered {response.status_code} on {path}; will retry / "
            "监察中心暂时不可用，将自动重试"
        )
    try:
        data = response.json()
    except ValueError:
        data = None
    if 400 <= response.status_code < 500:
        code = str(data.get("error", "")) if isinstance(data, dict) else ""
        if isinstance(data, dict):
            message = f"{data.get('message_en', '')} / {data.get('message_zh', '')}"
            if data.get("hint"):
                message += f" (hint: {data['hint']})"
        else:
            message = response.text[:200]
        raise EnvelopeRefused(
            response.status_code,
            code or "http_error",
            message,
            server_time(response, data),
            data,
        )
    if response.status_code != 200 or not isinstance(data, dict):
        raise PushError(
            f"the collector answered {response.status_code} on {path} without a JSON object; "
            "will retry"
        )
    return response, data


def server_time(response: httpx.Response | None, data: Any = None) -> datetime | None:
    """The collector's clock as it answered: ``collector_time`` in the body, else Date."""
    if isinstance(data, dict) and isinstance(data.get("collector_time"), str):
        try:
            when = datetime.fromisoformat(data["collector_time"])
            return when if when.tzinfo else when.replace(tzinfo=UTC)
        except ValueError:
            pass
    if response is not None and response.headers.get("date"):
        try:
            return parsedate_to_datetime(response.headers["date"])
        except (TypeError, ValueError):
            return None
    return None
