"""The agent-to-collector transport protocol (version 1).

Records travel inside signed envelopes. Transport data (agent id, sequence numbers,
nonces, signatures) is never part of a record; it lives in the envelope's manifest.

Batch (POST /api/v1/batches, JSON, usually gzip-encoded)::

    {"manifest": {"protocol": "esup/1", "kind": "batch", "agent_id": "...",
                  "seq_first": 101, "seq_last": 150,
                  "items": [[101, "<sha256 of record>"], ...],
                  "created_at": "2026-11-30T08:00:00+00:00", "nonce": "<32 hex>",
                  "backlog": {"records": 1200, "capturing": true}},  # optional
     "signature": "<base64 Ed25519 over signing_bytes(manifest)>",
     "records": [{"seq": 101, "record": {...spec record...}}, ...]}

``backlog`` says whether more is coming: the records the agent still holds undelivered after
this batch, and whether a source is being read right now. While an agent is behind, the
collector waits before judging its department's cases (a case whose completion is still in the
agent's outbox is not overdue). A heartbeat body says the same in ``outbox_pending`` and
``capturing``. Agents older than this field send no backlog: nothing is waited for.

Each send attempt gets a fresh nonce, created_at and signature (a signature must not expire
while a batch waits out an outage); the record hashes are the ones computed at capture.

Receipt (the collector's answer, signed with the collector's key)::

    {"receipt": {"protocol": "esup/1", "kind": "receipt", "agent_id": "...",
                 "manifest_hash": "<sha256 of canonical manifest>",
                 "covered": [[101, 150]],          # every seq the collector now holds
                 "rejected": [{"seq": 120, "code": "...", "path": "...",
                               "message_zh": "...", "message_en": "..."}],
                 "received_at": "...", "key_id": "<collector key id>"},
     "signature": "<base64 Ed25519 over signing_bytes(receipt)>"}

A seq is delivered only when a verified receipt covers it; rejected seqs are covered too (the
collector keeps them with their reason) and the agent keeps them as rejected, not resent.

A ``seq_reused`` rejection (the collector holds that seq with other content, as after the
agent's state directory was restored from a backup) carries ``last_seq``: the highest seq the
collector holds for this agent. The agent sends the record again under a seq above it. The
heartbeat acknowledgement carries the same ``last_seq``, so a restored agent numbers new
records above it before it sends any.

Other envelopes use the same manifest frame with another ``kind``: ``heartbeat`` (body in
``heartbeat``, its hash in ``body_hash``), ``snapshot`` (metadata in ``snapshot``, image
hash in ``body_hash``) and ``rotate`` (``new_public_key``, signed with the current key).

A rotate manifest also carries ``new_key_proof``: the NEW key's signature over
:func:`rotate_proof_frame` (kind ``rotate_proof``: agent id, new key, created_at, nonce), so
an agent can only move to a key it holds, never to another agent's public key. Build it with
:func:`rotate_manifest`; the collector checks it with :func:`verify_rotate_proof`.

Errors for a whole envelope are HTTP 4xx with :func:`error_body`. The refusal that makes an
agent stop sending (``agent_revoked``) also carries a ``refusal`` frame signed by the
collector (:func:`refusal`) naming the refused manifest: an agent stops only on that, never on
an unsigned 401/403 (a proxy's HTML page, a misrouted request), which it retries.

Every request of an enrolled agent also carries a signature over the request AS SENT, so
the collector can refuse a stranger before it decompresses or parses anything::

    X-Esup-Agent: <agent_id>
    X-Esup-Time: <ISO 8601 time with offset, the same clock as created_at>
    X-Esup-Nonce: <16..60 characters of [A-Za-z0-9_-], fresh per request>
    X-Esup-Signature: <base64 Ed25519 over request_signing_bytes(...)>

    request_signing_bytes = "esupervision esup/1 request\n" METHOD "\n" PATH "\n"
        agent_id "\n" time "\n" nonce "\n" content-encoding "\n" sha256-hex(body bytes)

PATH is the API path (``/api/v1/batches``), without a proxy's prefix or a query; the
content-encoding is ``gzip`` or ``identity``. :func:`request_headers` makes them,
:func:`read_request_auth` and :func:`verify_request` check them. The envelope inside keeps its
own signed manifest: that one is the evidence the collector stores and answers with a receipt.
Enrolment (no key yet) carries none of these headers; its one-time token is its credential.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .canonical import canonical_bytes
from .errors import BadSignature, ProtocolError

PROTOCOL = "esup/1"
KINDS = (
    "batch",
    "heartbeat",
    "snapshot",
    "rotate",
    "rotate_proof",
    "receipt",
    "heartbeat_ack",
    "refusal",
)
#: Default tolerated difference between the signer's and the verifier's clocks.
DEFAULT_SKEW_SECONDS = 300


def new_nonce() -> str:
    """Return 128 random bits as hex: unique per send attempt."""
    return secrets.token_hex(16)


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def key_id(public_key_raw: bytes) -> str:
    """Short, stable fingerprint of a raw 32-byte Ed25519 public key (16 hex chars)."""
    return hashlib.sha256(public_key_raw).hexdigest()[:16]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as exc:
        raise ProtocolError(f"{what} is not valid base64") from exc


def signing_bytes(frame: Mapping[str, Any]) -> bytes:
    """Bytes that are signed: a domain prefix naming protocol and kind, then RFC 8785 JSON."""
    kind = frame.get("kind")
    if kind not in KINDS:
        raise ProtocolError(f"unknown envelope kind {kind!r}; expected one of {', '.join(KINDS)}")
    return f"esupervision {PROTOCOL} {kind}\n".encode() + canonical_bytes(frame)


def frame_hash(frame: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(frame)).hexdigest()


#: More undelivered records than any outbox holds; also the store's integer column's limit.
MAX_BACKLOG_RECORDS = 2**31 - 1


@dataclass(frozen=True)
class Backlog:
    """What an agent still has to send: undelivered records, and a source being read now."""

    records: int
    capturing: bool

    @property
    def behind(self) -> bool:
        return self.records > 0 or self.capturing

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "capturing": self.capturing}


def read_backlog(frame: Mapping[str, Any]) -> Backlog | None:
    """The ``backlog`` of a batch manifest; None when the agent sent none (older agents)."""
    value = frame.get("backlog")
    if value is None:
        return None
    records = value.get("records") if isinstance(value, dict) else None
    capturing = value.get("capturing") if isinstance(value, dict) else None
    if (
        not isinstance(records, int)
        or isinstance(records, bool)
        or not 0 <= records <= MAX_BACKLOG_RECORDS
        or not isinstance(capturing, bool)
    ):
        raise ProtocolError(
            f'backlog must be {{"records": <integer 0..{MAX_BACKLOG_RECORDS}>, '
            f'"capturing": true|false}}, not {value!r}'
        )
    return Backlog(records, capturing)


def heartbeat_backlog(body: Mapping[str, Any]) -> Backlog | None:
    """The backlog a heartbeat body reports (``outbox_pending``, ``capturing``); None when it
    holds no usable ``outbox_pending``. A body without ``capturing`` (older agents) says no
    source is being read."""
    pending = body.get("outbox_pending")
    if not isinstance(pending, int) or isinstance(pending, bool):
        return None
    if not 0 <= pending <= MAX_BACKLOG_RECORDS:
        return None
    return Backlog(pending, body.get("capturing") is True)


def batch_manifest(
    agent_id: str,
    items: Sequence[tuple[int, str]],
    *,
    created_at: str | None = None,
    nonce: str | None = None,
    backlog: Backlog | None = None,
) -> dict[str, Any]:
    """Build a batch manifest from (seq, content hash) pairs, in ascending seq order."""
    if not items:
        raise ProtocolError("a batch needs at least one record")
    seqs = [s for s, _ in items]
    manifest: dict[str, Any] = {
        "protocol": PROTOCOL,
        "kind": "batch",
        "agent_id": agent_id,
        "seq_first": min(seqs),
        "seq_last": max(seqs),
        "items": [[int(s), str(h)] for s, h in items],
        "created_at": created_at or utc_now_iso(),
        "nonce": nonce or new_nonce(),
    }
    if backlog is not None:
        manifest["backlog"] = backlog.as_dict()
    return manifest


def body_manifest(kind: str, agent_id: str, body_hash: str, **extra: Any) -> dict[str, Any]:
    """Manifest for a heartbeat, snapshot or rotate envelope."""
    frame = {
        "protocol": PROTOCOL,
        "kind": kind,
        "agent_id": agent_id,
        "body_hash": body_hash,
        "created_at": utc_now_iso(),
        "nonce": new_nonce(),
    }
    frame.update(extra)
    signing_bytes(frame)  # rejects an unknown kind early
    return frame


def rotate_proof_frame(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """What the new key signs in a rotation: its own kind (a signature made for anything else
    cannot stand in), the agent it is for, the key itself and the manifest's freshness."""
    return {
        "protocol": PROTOCOL,
        "kind": "rotate_proof",
        "agent_id": manifest.get("agent_id"),
        "new_public_key": manifest.get("new_public_key"),
        "created_at": manifest.get("created_at"),
        "nonce": manifest.get("nonce"),
    }


def rotate_manifest(agent_id: str, new_private_key: Any) -> dict[str, Any]:
    """A rotate manifest moving ``agent_id`` to ``new_private_key``'s public key, with the
    proof that the sender holds that key; sign the result with the CURRENT key."""
    from cryptography.hazmat.primitives import serialization

    raw = new_private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    new_b64 = b64(raw)
    manifest = body_manifest(
        "rotate", agent_id, frame_hash({"new_public_key": new_b64}), new_public_key=new_b64
    )
    manifest["new_key_proof"] = sign(new_private_key, rotate_proof_frame(manifest))
    return manifest


def verify_rotate_proof(manifest: Mapping[str, Any]) -> bytes:
    """The new public key of a rotate manifest; BadSignature unless ``new_key_proof`` signs
    :func:`rotate_proof_frame` with that key, ProtocolError when either is missing."""
    new_key = manifest.get("new_public_key")
    proof = manifest.get("new_key_proof")
    if not isinstance(new_key, str) or not isinstance(proof, str):
        raise ProtocolError(
            "a rotate manifest needs new_public_key and new_key_proof (the new key's "
            "signature over the rotate_proof frame)"
        )
    raw = unb64(new_key, "new_public_key")
    verify(raw, rotate_proof_frame(manifest), proof)
    return raw


def sign(private_key: Any, frame: Mapping[str, Any]) -> str:
    """Sign a manifest or receipt with an Ed25519 private key; returns base64."""
    return b64(private_key.sign(signing_bytes(frame)))


def verify(public_key_raw: bytes, frame: Mapping[str, Any], signature_b64: str) -> None:
    """Raise BadSignature unless ``signature_b64`` signs ``frame`` with this key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    signature = unb64(signature_b64, "signature")
    try:
        Ed25519PublicKey.from_public_bytes(public_key_raw).verify(signature, signing_bytes(frame))
    except (InvalidSignature, ValueError) as exc:
        raise BadSignature(
            f"signature of the {frame.get('kind')} does not verify with key "
            f"{key_id(public_key_raw)}"
        ) from exc


def parse_time(text: str, what: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"{what} is not an ISO 8601 time: {text!r}") from exc
    if when.tzinfo is None:
        raise ProtocolError(f"{what} has no time zone offset: {text!r}")
    return when


def check_fresh(frame: Mapping[str, Any], now: datetime, skew_seconds: int) -> None:
    """Raise ProtocolError when created_at is further than ``skew_seconds`` from ``now``."""
    created = parse_time(str(frame.get("created_at")), "created_at")
    drift = abs((now - created).total_seconds())
    if drift > skew_seconds:
        raise ProtocolError(
            f"created_at {created.isoformat()} is {drift:.0f} s away from the receiver's "
            f"clock (allowed {skew_seconds} s)"
        )


def ranges(seqs: Iterable[int]) -> list[list[int]]:
    """Collapse sequence numbers into sorted inclusive [first, last] ranges."""
    out: list[list[int]] = []
    for s in sorted(set(seqs)):
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return out


def covered(ranges_: Iterable[Sequence[int]]) -> set[int]:
    """Expand [first, last] ranges back into the set of sequence numbers."""
    return {s for first, last in ranges_ for s in range(int(first), int(last) + 1)}


def receipt(
    agent_id: str,
    manifest: Mapping[str, Any],
    covered_seqs: Iterable[int],
    rejected: Sequence[Mapping[str, Any]],
    collector_key_id: str,
) -> dict[str, Any]:
    """The collector's receipt for one batch (to be signed with :func:`sign`)."""
    return {
        "protocol": PROTOCOL,
        "kind": "receipt",
        "agent_id": agent_id,
        "manifest_hash": frame_hash(manifest),
        "covered": ranges(covered_seqs),
        "rejected": [dict(r) for r in rejected],
        "received_at": utc_now_iso(),
        "key_id": collector_key_id,
    }


def heartbeat_ack(
    agent_id: str,
    manifest: Mapping[str, Any],
    collector_key_id: str,
    *,
    last_seq: int | None = None,
) -> dict[str, Any]:
    """The collector's answer to a heartbeat (signed with :func:`sign`, like a receipt).

    The answer on the wire is ``{"collector_time": ..., "ack": <this frame>, "signature": ...}``;
    ``collector_time`` inside the signed frame is the one to trust for clock offsets, and
    ``last_seq`` (the highest seq the collector holds for this agent, 0 for none) the one to
    number new records above.
    """
    now = utc_now_iso()
    ack: dict[str, Any] = {
        "protocol": PROTOCOL,
        "kind": "heartbeat_ack",
        "agent_id": agent_id,
        "manifest_hash": frame_hash(manifest),
        "collector_time": now,
        "received_at": now,
        "key_id": collector_key_id,
    }
    if last_seq is not None:
        ack["last_seq"] = last_seq
    return ack


def read_last_seq(frame: Mapping[str, Any]) -> int | None:
    """The ``last_seq`` of a heartbeat acknowledgement or a ``seq_reused`` rejection; None when
    absent (older collectors). Read only from a frame whose signature was verified."""
    value = frame.get("last_seq")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ProtocolError(f"last_seq must be an integer >= 0, not {value!r}")
    return value


def refusal(
    agent_id: str, manifest: Mapping[str, Any], code: str, collector_key_id: str
) -> dict[str, Any]:
    """The collector's signed word that it refuses this agent (signed with :func:`sign`).

    Sent as ``refusal`` and ``refusal_signature`` beside :func:`error_body`; it names the
    refused manifest, so it cannot be replayed against another request."""
    return {
        "protocol": PROTOCOL,
        "kind": "refusal",
        "agent_id": agent_id,
        "manifest_hash": frame_hash(manifest),
        "code": code,
        "refused_at": utc_now_iso(),
        "key_id": collector_key_id,
    }


def verify_refusal(
    public_key_raw: bytes, answer: Any, agent_id: str, manifest: Mapping[str, Any]
) -> str | None:
    """The code of a refusal the collector signed for this very manifest, else None (an
    unsigned or foreign 4xx: a proxy's page, a replayed answer)."""
    if not isinstance(answer, Mapping):
        return None
    frame, signature = answer.get("refusal"), answer.get("refusal_signature")
    if not isinstance(frame, Mapping) or not isinstance(signature, str):
        return None
    try:
        verify(public_key_raw, frame, signature)
    except ProtocolError:
        return None
    if (
        frame.get("kind") != "refusal"
        or frame.get("agent_id") != agent_id
        or frame.get("manifest_hash") != frame_hash(manifest)
    ):
        return None
    code = frame.get("code")
    return code if isinstance(code, str) else None


AGENT_HEADER = "X-Esup-Agent"
TIME_HEADER = "X-Esup-Time"
NONCE_HEADER = "X-Esup-Nonce"
SIGNATURE_HEADER = "X-Esup-Signature"
REQUEST_HEADERS = (AGENT_HEADER, TIME_HEADER, NONCE_HEADER, SIGNATURE_HEADER)
#: Agent ids and nonces are plain ASCII tokens: nothing a header or a database could mangle.
_TOKEN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,60}")


@dataclass(frozen=True)
class RequestAuth:
    """The signature headers of one request, read but not yet verified."""

    agent_id: str
    time: str
    nonce: str
    signature: str

    @property
    def signed_at(self) -> datetime:
        return parse_time(self.time, TIME_HEADER)


def content_encoding(value: str | None) -> str:
    """The Content-Encoding as signed: lower case, ``identity`` when absent."""
    return (value or "").strip().lower() or "identity"


def request_signing_bytes(
    method: str, path: str, auth: RequestAuth, encoding: str, body_sha256: str
) -> bytes:
    """What a request signature covers (see the module docstring)."""
    fields = (method.upper(), path, auth.agent_id, auth.time, auth.nonce, encoding, body_sha256)
    return f"esupervision {PROTOCOL} request\n".encode() + "\n".join(fields).encode("utf-8")


def request_headers(
    private_key: Any,
    agent_id: str,
    method: str,
    path: str,
    body: bytes,
    *,
    encoding: str = "identity",
    time: str | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The signature headers for one request whose body bytes (as sent) are ``body``."""
    auth = RequestAuth(agent_id, time or utc_now_iso(), nonce or new_nonce(), "")
    digest = hashlib.sha256(body).hexdigest()
    message = request_signing_bytes(method, path, auth, content_encoding(encoding), digest)
    return {
        AGENT_HEADER: auth.agent_id,
        TIME_HEADER: auth.time,
        NONCE_HEADER: auth.nonce,
        SIGNATURE_HEADER: b64(private_key.sign(message)),
    }


def read_request_auth(headers: Mapping[str, str]) -> RequestAuth:
    """The signature headers of a request; ProtocolError names what is missing or malformed."""
    missing = [name for name in REQUEST_HEADERS if not headers.get(name)]
    if missing:
        raise ProtocolError(f"the request lacks the signature header(s) {', '.join(missing)}")
    auth = RequestAuth(
        headers[AGENT_HEADER].strip(),
        headers[TIME_HEADER].strip(),
        headers[NONCE_HEADER].strip(),
        headers[SIGNATURE_HEADER].strip(),
    )
    if not _TOKEN.fullmatch(auth.agent_id):
        raise ProtocolError(f"{AGENT_HEADER} is not an agent id (1..64 of A-Z a-z 0-9 _ . : -)")
    if not _NONCE.fullmatch(auth.nonce):
        raise ProtocolError(f"{NONCE_HEADER} must be 16..60 characters of A-Z a-z 0-9 _ -")
    parse_time(auth.time, TIME_HEADER)
    return auth


def verify_request(
    public_key_raw: bytes,
    auth: RequestAuth,
    method: str,
    path: str,
    encoding: str,
    body_sha256: str,
) -> None:
    """Raise BadSignature unless ``auth`` signs this request with this key."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    signature = unb64(auth.signature, SIGNATURE_HEADER)
    message = request_signing_bytes(method, path, auth, content_encoding(encoding), body_sha256)
    try:
        Ed25519PublicKey.from_public_bytes(public_key_raw).verify(signature, message)
    except (InvalidSignature, ValueError) as exc:
        raise BadSignature(
            f"the request signature does not verify with key {key_id(public_key_raw)}"
        ) from exc


def error_body(code: str, message_zh: str, message_en: str, hint: str = "") -> dict[str, Any]:
    """JSON body of a refused envelope: a stable code and words for department IT."""
    return {"error": code, "message_zh": message_zh, "message_en": message_en, "hint": hint}
