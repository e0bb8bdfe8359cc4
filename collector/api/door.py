"""The door of the agent API: who may make the collector work, and how much.

A signed request (batch, heartbeat, rotate) is authenticated from its headers and the bytes
as sent (:mod:`exchange_spec.protocol` request signatures) before anything is inflated or
parsed; enrolment, which has no key yet, is read within a small cap. Until a request is
authenticated it holds one of the few slots its client address has; inflating and parsing run
in worker threads, a bounded number at a time, so the event loop keeps answering.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Any

import anyio
import anyio.to_thread
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from exchange_spec import protocol
from exchange_spec.errors import ProtocolError

from ..errors import IngestRefused
from ..store import enrolment, evidence
from ..store.enrolment import Agent
from .bodies import decode_json, encoding_of, read_raw
from .context import AppContext
from .envelopes import stale

#: Request nonces share the nonce table with manifest nonces, in their own name space (the
#: protocol keeps them to 60 characters, so the prefixed one fits the table's 64).
REQUEST_NONCE_PREFIX = "req:"


def unsigned(detail: str) -> IngestRefused:
    return IngestRefused(
        401,
        "unsigned_request",
        "请求缺少有效的采集端签名头（X-Esup-Agent、X-Esup-Time、X-Esup-Nonce、X-Esup-Signature）",
        f"the request has no valid agent signature headers: {detail}",
        "upgrade the agent (requests are signed since this version); enrolled agents sign every "
        "request",
    )


class Door:
    """Per-app admission state: slots per client address and the parsing limiter."""

    def __init__(self, per_address: int, parse_workers: int) -> None:
        self.per_address = per_address
        self.parse_workers = parse_workers
        self.waiting: dict[str, int] = {}  # unauthenticated requests in flight, per address
        self._limiter: anyio.CapacityLimiter | None = None
        self._limiter_loop: asyncio.AbstractEventLoop | None = None

    @contextmanager
    def unauthenticated(self, address: str) -> Iterator[None]:
        """Hold one of ``address``'s slots; refuse with 429 when it has none left."""
        # Only the event loop's thread runs this, and nothing awaits between check and
        # count: no lock is needed.
        held = self.waiting.get(address, 0)
        if held >= self.per_address:
            raise IngestRefused(
                429,
                "too_many_requests",
                f"来自 {address} 的未认证请求过多（同时最多 {self.per_address} 个），请稍后重试",
                f"too many unauthenticated requests from {address} at once "
                f"(at most {self.per_address}); retry later",
                "the agent retries by itself; behind a reverse proxy raise "
                "unauthenticated_per_address or pass the client address (X-Forwarded-For)",
            )
        self.waiting[address] = held + 1
        try:
            yield
        finally:
            if self.waiting[address] <= 1:
                del self.waiting[address]
            else:
                self.waiting[address] -= 1

    def _parse_limiter(self) -> anyio.CapacityLimiter:
        # A limiter belongs to one event loop; a test may run the same app in several.
        loop = asyncio.get_running_loop()
        if self._limiter is None or self._limiter_loop is not loop:
            self._limiter = anyio.CapacityLimiter(self.parse_workers)
            self._limiter_loop = loop
        return self._limiter

    async def parse(
        self, raw: bytes, encoding: str, limit: int, *, plain_text: bool = False
    ) -> Any:
        """Inflate and parse in a worker thread, at most ``parse_workers`` at a time."""
        return await anyio.to_thread.run_sync(
            partial(decode_json, raw, encoding, limit, plain_text=plain_text),
            limiter=self._parse_limiter(),
        )


def door_of(request: Request) -> Door:
    door: Door = request.app.state.door
    return door


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def route_path(request: Request) -> str:
    """The API path a request was signed for: the route's own, whatever a proxy prefixed."""
    route = request.scope.get("route")
    return str(getattr(route, "path", request.url.path))


async def read_unsigned_json(request: Request, limit: int) -> Any:
    """Enrolment: no key yet, so a small body, read and parsed inside the address's slot."""
    door = door_of(request)
    with door.unauthenticated(client_address(request)):
        encoding = encoding_of(request)
        raw, _ = await read_raw(request, limit)
        return await door.parse(raw, encoding, limit, plain_text=True)


async def read_signed_json(request: Request, ctx: AppContext, limit: int) -> tuple[Agent, Any]:
    """Authenticate a request from its signature headers and body as sent, then parse it.

    Nothing is inflated or parsed before the signature verifies with the agent's pinned key
    and its nonce is claimed; ``limit`` caps the body as sent and after decompression (within
    the settings' max_body_bytes and max_json_bytes)."""
    door = door_of(request)
    raw_limit = min(limit, ctx.settings.max_body_bytes)
    json_limit = min(limit, ctx.settings.max_json_bytes)
    with door.unauthenticated(client_address(request)):
        try:
            auth = protocol.read_request_auth(request.headers)
        except ProtocolError as exc:
            raise unsigned(str(exc)) from exc
        encoding = encoding_of(request)
        now = ctx.now()
        offset = (auth.signed_at - now).total_seconds()
        if abs(offset) > ctx.settings.skew_seconds:
            raise stale(offset, ctx.settings.skew_seconds)
        agent = await run_in_threadpool(_pinned_agent, ctx, auth.agent_id)
        raw, digest = await read_raw(request, raw_limit)
        try:
            protocol.verify_request(
                agent.public_key, auth, request.method, route_path(request), encoding, digest
            )
        except ProtocolError as exc:
            raise IngestRefused(
                401,
                "bad_signature",
                f"请求签名无法用采集端 {agent.agent_id} 登记的公钥 {agent.key_id} 验证",
                f"the request signature does not verify with the key {agent.key_id} pinned "
                f"for {agent.agent_id}",
                "the agent's key file may have been replaced: re-enrol the agent or rotate its key",
            ) from exc
        await run_in_threadpool(_claim, ctx, agent.agent_id, auth.nonce, now)
    return agent, await door.parse(raw, encoding, json_limit)


def _pinned_agent(ctx: AppContext, agent_id: str) -> Agent:
    """The agent's pinned key, revoked or not: a revoked agent's request is still
    authenticated and read (within the caps), so that its envelope can be answered with the
    signed refusal naming its manifest, the one answer that makes an agent stop sending."""
    with ctx.transaction() as conn:
        return enrolment.require_agent(conn, agent_id)


def _claim(ctx: AppContext, agent_id: str, nonce: str, now: datetime) -> None:
    with ctx.transaction() as conn:
        fresh = evidence.claim_nonce(conn, agent_id, REQUEST_NONCE_PREFIX + nonce, now=now)
    if not fresh:
        raise IngestRefused(
            409,
            "replayed",
            "该请求已经收到过（请求 nonce 重复），按重放处理不予接收",
            "this request was received before (its nonce was already seen); refused as a replay",
            "each request needs a fresh X-Esup-Nonce and signature",
        )
