"""Reading and verifying signed envelopes: body size, gzip, JSON, agent, signature, freshness,
nonce. Every refusal is an IngestRefused with a stable code."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import Connection

from exchange_spec import protocol
from exchange_spec.errors import ProtocolError

from ..errors import AgentRevoked, IngestRefused
from ..store import enrolment, evidence
from ..store.enrolment import Agent


def malformed(what_zh: str, what_en: str) -> IngestRefused:
    return IngestRefused(
        400,
        "malformed",
        f"请求格式错误：{what_zh}",
        f"malformed request: {what_en}",
        "upgrade the agent to a version that speaks protocol esup/1",
    )


def _too_large(limit: int) -> IngestRefused:
    return IngestRefused(
        413,
        "too_large",
        f"请求体超过上限 {limit} 字节",
        f"the request body exceeds the limit of {limit} bytes",
        "send smaller batches (agent setting batch size) or raise max_body_bytes on the collector",
    )


async def read_json(request: Request, limit: int) -> Any:
    """Read the body (plain or gzip) without ever holding more than ``limit`` bytes."""
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > limit:
            raise _too_large(limit)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    data = bytes(raw)
    if encoding == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        try:
            data = inflater.decompress(data, limit + 1)
        except zlib.error as exc:
            raise malformed("gzip 数据损坏", f"the gzip body is corrupt ({exc})") from exc
        if len(data) > limit or inflater.unconsumed_tail:
            raise _too_large(limit)
    elif encoding not in ("identity", ""):
        raise IngestRefused(
            415,
            "unsupported_encoding",
            f"不支持的压缩方式 {encoding}",
            f"Content-Encoding {encoding!r} is not supported",
            "send plain JSON or gzip",
        )
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise malformed("不是合法的 JSON", f"the body is not valid JSON ({exc})") from exc


def public_key_from(text: Any, what: str = "public_key") -> bytes:
    """Decode a base64 raw Ed25519 public key, refusing anything that is not one."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = protocol.unb64(str(text), what)
        Ed25519PublicKey.from_public_bytes(raw)
    except (ProtocolError, ValueError) as exc:
        raise IngestRefused(
            400,
            "bad_public_key",
            f"{what} 不是 base64 编码的 32 字节 Ed25519 公钥",
            f"{what} is not a base64 raw 32-byte Ed25519 public key",
        ) from exc
    return raw


@dataclass(frozen=True)
class Verified:
    agent: Agent
    manifest: dict[str, Any]
    signature: str
    clock_offset: float  # seconds the agent's clock is ahead of ours
    created_at: datetime  # the agent's signed time: orders its reports


def verify_envelope(
    conn: Connection, envelope: Any, kind: str, *, now: datetime, skew_seconds: int
) -> Verified:
    """Check one envelope inside the request's transaction; the nonce is claimed here."""
    if not isinstance(envelope, dict):
        raise malformed("请求体必须是 JSON 对象", "the body must be a JSON object")
    manifest, signature = envelope.get("manifest"), envelope.get("signature")
    if not isinstance(manifest, dict) or not isinstance(signature, str):
        raise malformed("缺少 manifest 或 signature", "manifest or signature is missing")
    if manifest.get("protocol") != protocol.PROTOCOL or manifest.get("kind") != kind:
        raise malformed(
            f"需要 {protocol.PROTOCOL} 协议的 {kind} 清单",
            f"expected a {kind} manifest of protocol {protocol.PROTOCOL}, got "
            f"{manifest.get('protocol')!r} {manifest.get('kind')!r}",
        )
    agent_id = manifest.get("agent_id")
    if not isinstance(agent_id, str):
        raise malformed("清单缺少 agent_id", "the manifest has no agent_id")
    agent = enrolment.require_agent(conn, agent_id)
    if agent.status != "active":
        raise AgentRevoked(
            agent_id,
            manifest,
            f"采集端 {agent_id} 已于 {agent.revoked_at} 被吊销（{agent.revoked_reason}），"
            "数据不予接收",
            f"agent {agent_id} was revoked at {agent.revoked_at} ({agent.revoked_reason}); "
            "nothing it sends is accepted",
        )
    try:
        protocol.verify(agent.public_key, manifest, signature)
    except ProtocolError as exc:
        raise IngestRefused(
            401,
            "bad_signature",
            f"签名无法用采集端 {agent_id} 登记的公钥 {agent.key_id} 验证",
            f"the signature does not verify with the key {agent.key_id} pinned for {agent_id}",
            "the agent's key file may have been replaced: re-enrol the agent or rotate its key",
        ) from exc
    try:
        created = protocol.parse_time(str(manifest.get("created_at")), "created_at")
    except ProtocolError as exc:
        raise malformed("created_at 不是带时区的 ISO 时间", str(exc)) from exc
    offset = (created - now).total_seconds()
    if abs(offset) > skew_seconds:
        direction_en = "ahead of" if offset > 0 else "behind"
        direction_zh = "快" if offset > 0 else "慢"
        raise IngestRefused(
            401,
            "stale",
            f"采集端时钟比采集中心{direction_zh} {abs(offset):.0f} 秒（允许 {skew_seconds} 秒），"
            "请校准前置机时间（NTP）",
            f"the agent's clock is off by {offset:+.0f} seconds ({direction_en} the collector; "
            f"allowed {skew_seconds} s); fix NTP on the front-end machine",
            "enable time synchronisation (NTP / w32time) on the front-end machine",
        )
    nonce = manifest.get("nonce")
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64:
        raise malformed("nonce 无效", "the nonce must be a string of 16..64 characters")
    if not evidence.claim_nonce(conn, agent_id, nonce, now=now):
        raise IngestRefused(
            409,
            "replayed",
            "该请求已经收到过（nonce 重复），按重放处理不予接收",
            "this envelope was received before (nonce already seen); refused as a replay",
            "each send attempt needs a fresh nonce, created_at and signature",
        )
    return Verified(agent, manifest, signature, offset, created)
