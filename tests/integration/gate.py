"""An HTTP gate between an agent and the collector: it forwards everything, and once told to
close it answers batches 503 (as a collector whose store is down does), so a test can stop an
agent's backlog part way through, at an exact batch, and let it go on later."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from exchange_spec import protocol

from .processes import free_port

_FORWARDED = ("Content-Type", "Content-Encoding", *protocol.REQUEST_HEADERS)


class BatchGate:
    def __init__(self, target: str, *, let_through: int) -> None:
        self.target = target.rstrip("/")
        self.let_through = let_through  # batches forwarded before the gate closes
        self.forwarded = 0
        self.refused = 0
        self.lock = threading.Lock()
        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BatchGate:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def open(self) -> None:
        with self.lock:
            self.let_through = 10**9

    def _admit(self, path: str) -> bool:
        if path != "/api/v1/batches":
            return True
        with self.lock:
            if self.forwarded < self.let_through:
                self.forwarded += 1
                return True
            self.refused += 1
            return False

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if not gate._admit(self.path):
                    self._answer(
                        503,
                        json.dumps(
                            {
                                "error": "store_unavailable",
                                "message_zh": "测试闸门关闭",
                                "message_en": "test gate closed",
                            }
                        ).encode(),
                    )
                    return
                headers = {k: v for k in _FORWARDED if (v := self.headers.get(k))}
                answer = httpx.post(
                    gate.target + self.path, content=body, headers=headers, timeout=30
                )
                self._answer(answer.status_code, answer.content)

            def _answer(self, status: int, content: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

        return Handler
