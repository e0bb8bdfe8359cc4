"""POST /api/v1/enrol (one-time token -> pinned key) and POST /api/v1/rotate."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from exchange_spec import protocol
from exchange_spec.errors import ProtocolError

from ..errors import IngestRefused
from ..store import enrolment
from . import openapi
from .context import Context
from .door import read_signed_json, read_unsigned_json
from .envelopes import malformed, public_key_from, verify_envelope

router = APIRouter(prefix="/api/v1", tags=["agents"])

#: An enrolment is a token, a key, a host name and a version: a few hundred bytes. It is read
#: before anyone is known, so the cap is small.
ENROL_LIMIT = 4 * 1024


@router.post("/enrol", openapi_extra=openapi.ENROL)
async def enrol(request: Request, ctx: Context) -> dict[str, Any]:
    """Consume a one-time token and pin the agent's Ed25519 key to the token's department."""
    body = await read_unsigned_json(request, ENROL_LIMIT)
    if not isinstance(body, dict) or not isinstance(body.get("token"), str):
        raise malformed("缺少注册令牌 token", "the enrolment request has no token")
    public_key = public_key_from(body.get("public_key"))
    department = body.get("department")
    if department is not None and not isinstance(department, str):
        raise malformed("department 必须是字符串", "department must be a string")

    def work() -> enrolment.Enrolled:
        with ctx.transaction() as conn:
            return enrolment.enrol(
                conn,
                body["token"],
                public_key,
                now=ctx.now(),
                hostname=str(body.get("hostname", "")),
                agent_version=str(body.get("agent_version", "")),
                department=department,
            )

    agent = await run_in_threadpool(work)
    return {
        "agent_id": agent.agent_id,
        "department": agent.department,
        "key_id": agent.key_id,
        "collector_public_key": ctx.key.public_b64,
        "collector_key_id": ctx.key.key_id,
        # agents of the department revoked by this enrolment (a plain token replaces them)
        "replaced_agents": list(agent.replaced),
    }


@router.post("/rotate", openapi_extra=openapi.ROTATE)
async def rotate(request: Request, ctx: Context) -> dict[str, Any]:
    """Replace the agent's key: a rotate envelope signed with the current key, carrying the new
    key's proof that the agent holds it (protocol.rotate_manifest)."""
    sender, envelope = await read_signed_json(request, ctx, ENROL_LIMIT)

    def work() -> dict[str, Any]:
        now = ctx.now()
        with ctx.transaction() as conn:
            verified = verify_envelope(
                conn,
                envelope,
                "rotate",
                now=now,
                skew_seconds=ctx.settings.skew_seconds,
                sender=sender.agent_id,
            )
            new_key = public_key_from(verified.manifest.get("new_public_key"), "new_public_key")
            try:
                protocol.verify_rotate_proof(verified.manifest)
            except ProtocolError as exc:
                raise IngestRefused(
                    401,
                    "bad_key_proof",
                    "新密钥的持有证明（new_key_proof）缺失或无法验证，密钥未更换",
                    f"the new key's proof of possession is missing or does not verify ({exc}); "
                    "the key was not changed",
                    "rotate with esup-agent rotate-key, which signs the proof with the new key",
                ) from exc
            kid = enrolment.rotate_key(conn, verified.agent.agent_id, new_key, now=now)
            return {"agent_id": verified.agent.agent_id, "key_id": kid}

    ctx.maybe_sweep_nonces()
    return await run_in_threadpool(work)
