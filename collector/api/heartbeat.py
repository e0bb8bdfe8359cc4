"""POST /api/v1/heartbeat: the agent's status, answered with the collector's signed time and
the highest seq it holds for the agent (an agent restored from a backup numbers above it)."""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from exchange_spec import canonical_bytes, protocol

from ..errors import IngestRefused
from ..store import enrolment
from ..store.backlog import record_backlog
from ..store.gaps import highest_seq
from . import openapi
from .context import Context
from .door import read_signed_json
from .envelopes import malformed, verify_envelope

router = APIRouter(prefix="/api/v1", tags=["agents"])

HEARTBEAT_LIMIT = 256 * 1024


@router.post("/heartbeat", openapi_extra=openapi.HEARTBEAT)
async def heartbeat(request: Request, ctx: Context) -> dict[str, Any]:
    """Store the agent's last heartbeat; answer ``collector_time`` in a signed acknowledgement."""
    sender, envelope = await read_signed_json(request, ctx, HEARTBEAT_LIMIT)

    def work() -> dict[str, Any]:
        now = ctx.now()
        with ctx.transaction() as conn:
            verified = verify_envelope(
                conn,
                envelope,
                "heartbeat",
                now=now,
                skew_seconds=ctx.settings.skew_seconds,
                sender=sender.agent_id,
            )
            body = envelope.get("heartbeat")
            if not isinstance(body, dict):
                raise malformed("缺少 heartbeat 内容", "the heartbeat body is missing")
            if hashlib.sha256(canonical_bytes(body)).hexdigest() != verified.manifest.get(
                "body_hash"
            ):
                raise IngestRefused(
                    400,
                    "tampered",
                    "心跳内容与签名清单的 body_hash 不符",
                    "the heartbeat body does not match the signed body_hash",
                )
            enrolment.record_heartbeat(
                conn, verified.agent.agent_id, body, now=now, clock_offset=verified.clock_offset
            )
            reported = protocol.heartbeat_backlog(body)
            if reported is not None:
                record_backlog(
                    conn,
                    verified.agent.agent_id,
                    reported,
                    reported_at=verified.created_at,
                    now=now,
                )
            ack = protocol.heartbeat_ack(
                verified.agent.agent_id,
                verified.manifest,
                ctx.key.key_id,
                last_seq=highest_seq(conn, verified.agent.agent_id),
            )
            return {
                "collector_time": ack["collector_time"],
                "ack": ack,
                "signature": protocol.sign(ctx.key.private_key, ack),
            }

    ctx.maybe_sweep_nonces()
    return await run_in_threadpool(work)
