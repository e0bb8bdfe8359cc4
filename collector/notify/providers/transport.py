"""HTTP calls of the providers, with network errors and 5xx turned into retryable
ProviderErrors where they enter."""

from __future__ import annotations

import json
from typing import Any

import httpx

from ..errors import ProviderError

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def call_json(
    provider: str,
    url: str,
    *,
    params: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST and return (status, JSON object); 5xx, bad JSON and network errors raise."""
    try:
        with httpx.Client(timeout=TIMEOUT) as client:
            response = client.post(url, params=params, data=data, content=content, headers=headers)
    except httpx.HTTPError as exc:
        raise ProviderError(provider, "network", f"{url}: {exc}", retryable=True) from exc
    if response.status_code >= 500:
        raise ProviderError(
            provider, f"http_{response.status_code}", response.text[:300], retryable=True
        )
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProviderError(
            provider,
            f"http_{response.status_code}",
            f"answer is not JSON: {response.text[:300]!r}",
            retryable=response.status_code == 429,
        ) from exc
    if not isinstance(body, dict):
        raise ProviderError(
            provider, "bad_answer", f"JSON object expected: {body!r}", retryable=False
        )
    return response.status_code, body


def post_bot_message(
    provider: str,
    url: str,
    params: dict[str, str],
    payload: dict[str, Any],
    retryable_errcodes: set[int],
) -> dict[str, Any]:
    """POST a group robot's JSON message (DingTalk, WeCom); errcode 0 is success."""
    _status, body = call_json(
        provider,
        url,
        params=params,
        content=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    errcode = int(body.get("errcode", -1))
    if errcode != 0:
        raise ProviderError(
            provider,
            str(errcode),
            str(body.get("errmsg", "")),
            retryable=errcode in retryable_errcodes,
        )
    return body
