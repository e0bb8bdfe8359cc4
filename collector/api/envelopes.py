"""Verifying signed envelopes: agent, signature, freshness, nonce. Every refusal is an
IngestRefused with a stable code. Bodies are read and parsed by :mod:`collector.api.door`
(request signature first) and :mod:`collector.api.bodies`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from exchange_spec import protocol
from exchange_spec.errors import ProtocolError

from ..errors import AgentRevoked, IngestRefused
from ..store import enrolment, evidence
from ..store.enrolment import Agent
from ..store.timestamps import beijing_minute
from .bodies import malformed as malformed  # the handlers' one way to say "malformed"


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


def _is_token(text: str) -> bool:
    """Printable ASCII: what an id or nonce is, and what every store's key columns can hold."""
    return text.isascii() and text.isprintable()


def stale(offset: float, skew_seconds: int) -> IngestRefused:
    """The agent's clock is ``offset`` seconds off ours, beyond the window."""
    direction_en = "ahead of" if offset > 0 else "behind"
    direction_zh = "快" if offset > 0 else "慢"
    return IngestRefused(
        401,
        "stale",
        f"采集端时钟比采集中心{direction_zh} {abs(offset):.0f} 秒（允许 {skew_seconds} 秒），"
        "请校准前置机时间（NTP）",
        f"the agent's clock is off by {offset:+.0f} seconds ({direction_en} the collector; "
        f"allowed {skew_seconds} s); fix NTP on the front-end machine",
        "enable time synchronisation (NTP / w32time) on the front-end machine",
    )


def verify_envelope(
    conn: Connection,
    envelope: Any,
    kind: str,
    *,
    now: datetime,
    skew_seconds: int,
    sender: str | None,
) -> Verified:
    """Check one envelope inside the request's transaction; the nonce is claimed here.

    ``sender`` is the agent the request's signature headers authenticated: the manifest must
    be its own. The manifest is verified again (defence in depth): it is the signed evidence
    the collector keeps and answers with a receipt."""
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
    if not isinstance(agent_id, str) or not _is_token(agent_id):
        raise malformed("清单缺少 agent_id", "the manifest has no agent_id")
    if sender is not None and agent_id != sender:
        raise IngestRefused(
            401,
            "agent_mismatch",
            f"清单中的采集端 {agent_id} 与请求签名的采集端 {sender} 不一致",
            f"the manifest names agent {agent_id!r} but the request is signed by {sender}",
            "an agent sends only its own envelopes",
        )
    agent = enrolment.require_agent(conn, agent_id)
    if agent.status != "active":
        # Signed, naming this manifest: the one refusal that makes an agent stop sending.
        raise AgentRevoked(
            agent_id,
            manifest,
            f"采集端 {agent_id} 已于 {beijing_minute(agent.revoked_at)} 被吊销"
            f"（{agent.revoked_reason}），"
            "数据不予接收",
            f"agent {agent_id} was revoked at {beijing_minute(agent.revoked_at)} Beijing time "
            f"({agent.revoked_reason}); "
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
        raise stale(offset, skew_seconds)
    nonce = manifest.get("nonce")
    if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64 or not _is_token(nonce):
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
