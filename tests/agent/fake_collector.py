"""An in-process collector built only from exchange_spec.protocol, speaking the real wire
protocol (enrolment, gzip batches with signed manifests, signed receipts, heartbeats).

It is strict where the real collector must be: it verifies every manifest signature with
the enrolled key, refuses reused nonces and stale created_at, checks each record's content
hash against the manifest and validates records with exchange_spec (invalid ones are
covered and rejected, as the protocol says). Failure modes are switched on by tests.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exchange_spec import canonical_bytes, protocol, validate_record
from exchange_spec.errors import ProtocolError


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass
class FakeCollector:
    department: str = "330102001"
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    tokens: set[str] = field(default_factory=lambda: {"good-token"})
    agents: dict[str, bytes] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)
    records: dict[int, dict[str, Any]] = field(default_factory=dict)  # seq -> record
    nonces: set[str] = field(default_factory=set)
    manifests: list[dict[str, Any]] = field(default_factory=list)  # every batch manifest
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    # Every request as received: (path, headers, decoded JSON body), failed ones included.
    seen: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    # Failure modes: statuses/"connect" to answer the next requests with, in order. Over a
    # real HTTP server, ("html", status) answers a proxy's HTML error page.
    fail_next: list[Any] = field(default_factory=list)
    sign_receipts_with: Ed25519PrivateKey | None = None  # a wrong key: untrusted receipts
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    skew_seconds: int = protocol.DEFAULT_SKEW_SECONDS
    max_batch_records: int = 10_000  # larger batches are refused with 413 too_large
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def public_key(self) -> bytes:
        return raw_public(self.key)

    @property
    def key_id(self) -> str:
        return protocol.key_id(self.public_key)

    # -- transport seams ---------------------------------------------------------------------
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            body = request.content
            if request.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            self.seen.append(
                (request.url.path, dict(request.headers), json.loads(body) if body else None)
            )
            if self.fail_next:
                failure = self.fail_next.pop(0)
                if failure == "connect":
                    raise httpx.ConnectError("connection refused", request=request)
                return httpx.Response(int(failure), json={"error": "unavailable"})
            refused = self._check_request(request)
            if refused:
                return httpx.Response(refused[0], json=refused[1])
            status, answer = self.route(request.method, request.url.path, body)
            return httpx.Response(status, json=answer)

    def _check_request(self, request: httpx.Request) -> tuple[int, Any] | None:
        """The request signature over the bytes as sent, as the real collector checks it."""
        if request.method == "GET" or request.url.path == "/api/v1/enrol":
            return None
        try:
            auth = protocol.read_request_auth(request.headers)
            key = self.agents.get(auth.agent_id)
            if key is None:
                return 401, protocol.error_body("unknown_agent", "未知代理", "unknown agent")
            protocol.verify_request(
                key,
                auth,
                request.method,
                request.url.path,
                request.headers.get("content-encoding", "identity"),
                hashlib.sha256(request.content).hexdigest(),
            )
        except ProtocolError as exc:
            return 401, protocol.error_body("unsigned_request", "请求签名无效", str(exc))
        return None

    def route(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if method == "GET" and path == "/healthz":
            return 200, {"status": "ok", "collector_key_id": self.key_id}
        if method == "GET":
            return 404, protocol.error_body("not_found", "无此接口", "no such endpoint")
        data = json.loads(body)
        if path == "/api/v1/enrol":
            return self.enrol(data)
        if path == "/api/v1/batches":
            return self.batch(data)
        if path == "/api/v1/heartbeat":
            return self.heartbeat(data)
        return 404, protocol.error_body("not_found", "无此接口", "no such endpoint")

    # -- endpoints ---------------------------------------------------------------------------
    def enrol(self, data: dict[str, Any]) -> tuple[int, Any]:
        if data.get("token") not in self.tokens:
            return 403, protocol.error_body("bad_token", "令牌无效", "unknown or used token")
        self.tokens.discard(data["token"])
        key = protocol.unb64(data["public_key"], "public_key")
        agent_id = f"agent-{protocol.key_id(key)}"
        self.agents[agent_id] = key
        return 200, {
            "agent_id": agent_id,
            "department": self.department,
            "collector_public_key": protocol.b64(self.public_key),
            "collector_key_id": self.key_id,
        }

    def _check_envelope(self, data: dict[str, Any]) -> tuple[int, Any] | None:
        manifest = data.get("manifest") or {}
        agent_id = manifest.get("agent_id")
        if agent_id in self.revoked:
            # Signed for this manifest, as the real collector does: the one refusal that
            # stops an agent.
            frame = protocol.refusal(agent_id, manifest, "agent_revoked", self.key_id)
            return 403, {
                **protocol.error_body("agent_revoked", "代理已吊销", "agent revoked"),
                "refusal": frame,
                "refusal_signature": protocol.sign(self.key, frame),
            }
        if agent_id not in self.agents:
            return 403, protocol.error_body("unknown_agent", "未知代理", "unknown agent")
        try:
            protocol.verify(self.agents[agent_id], manifest, data.get("signature", ""))
        except ProtocolError as exc:
            return 401, protocol.error_body("bad_signature", "签名无效", str(exc))
        try:
            protocol.check_fresh(manifest, self.clock(), self.skew_seconds)
        except ProtocolError as exc:
            return 401, {
                **protocol.error_body("stale", "时间戳过期", str(exc)),
                "collector_time": self.clock().isoformat(),
            }
        if manifest["nonce"] in self.nonces:
            return 409, protocol.error_body("replayed_nonce", "重放", "nonce seen before")
        self.nonces.add(manifest["nonce"])
        return None

    def batch(self, data: dict[str, Any]) -> tuple[int, Any]:
        refused = self._check_envelope(data)
        if refused:
            return refused
        manifest = data["manifest"]
        if len(manifest["items"]) > self.max_batch_records:
            return 413, protocol.error_body("too_large", "批次过大", "batch too large")
        self.manifests.append(manifest)
        hashes = {int(s): h for s, h in manifest["items"]}
        covered: list[int] = []
        rejected: list[dict[str, Any]] = []
        for item in data["records"]:
            seq, record = int(item["seq"]), item["record"]
            actual = hashlib.sha256(canonical_bytes(record)).hexdigest()
            if hashes.get(seq) != actual:
                return 400, protocol.error_body("hash_mismatch", "哈希不符", f"seq {seq}")
            covered.append(seq)
            problems = validate_record(record)
            held = self.records.get(seq)
            if held is not None and canonical_bytes(held) != canonical_bytes(record):
                rejected.append(
                    {"seq": seq, "code": "seq_reused", "path": "", "message_zh": "序号已用",
                     "message_en": "seq reused", "last_seq": max(self.records)}
                )  # fmt: skip
            elif problems:
                p = problems[0]
                rejected.append(
                    {"seq": seq, "code": p.code, "path": p.path,
                     "message_zh": p.message_zh, "message_en": p.message_en}
                )  # fmt: skip
            else:
                self.records[seq] = record
        receipt = protocol.receipt(manifest["agent_id"], manifest, covered, rejected, self.key_id)
        signer = self.sign_receipts_with or self.key
        return 200, {"receipt": receipt, "signature": protocol.sign(signer, receipt)}

    def heartbeat(self, data: dict[str, Any]) -> tuple[int, Any]:
        refused = self._check_envelope(data)
        if refused:
            return refused
        body = data["heartbeat"]
        if protocol.frame_hash(body) != data["manifest"]["body_hash"]:
            return 400, protocol.error_body("hash_mismatch", "哈希不符", "body_hash")
        self.heartbeats.append(body)
        ack = protocol.heartbeat_ack(
            data["manifest"]["agent_id"],
            data["manifest"],
            self.key_id,
            last_seq=max(self.records, default=0),
        )
        ack["collector_time"] = self.clock().isoformat(timespec="milliseconds")
        signer = self.sign_receipts_with or self.key
        return 200, {
            "collector_time": ack["collector_time"],
            "ack": ack,
            "signature": protocol.sign(signer, ack),
        }


class FakeCollectorServer:
    """The fake collector behind a real HTTP server on 127.0.0.1 (random port)."""

    def __init__(self, fake: FakeCollector, tls: ssl.SSLContext | None = None) -> None:
        self.fake = fake
        self.scheme = "https" if tls else "http"

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                with fake.lock:
                    if fake.fail_next and isinstance(fake.fail_next[0], tuple):
                        _, status = fake.fail_next.pop(0)
                        self._page(status)
                        return
                    status, answer = fake.route(self.command, self.path, body)
                out = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def _page(self, status: int) -> None:
                page = f"<html><body><h1>{status}</h1>Access denied by proxy</body></html>"
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page.encode())

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeCollectorServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def later(seconds: float) -> Callable[[], datetime]:
    """A collector clock running ``seconds`` ahead of ours."""
    return lambda: datetime.now(UTC) + timedelta(seconds=seconds)
