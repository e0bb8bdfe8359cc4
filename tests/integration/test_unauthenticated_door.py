"""A real collector process (esup-collector serve, uvicorn) under many small gzip bombs sent
without valid credentials: every one is refused with a 4xx and the process's memory stays
bounded (measured with psutil). Before, eight 92 KB bombs raised it to 2 GB and stalled
/healthz for 21 s: bodies were inflated and parsed before any signature was checked.

Also: an address that holds its unauthenticated slots with slow bodies gets 429 for more,
and gets its slots back when those connections end.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exchange_spec import protocol

from .processes import Proc, collector_proc, free_port, run_cli, wait_http

MiB = 1024 * 1024
#: Loose on purpose: the collector's own working set moves by tens of MiB; the bombs used to
#: add gigabytes.
MEMORY_GROWTH_LIMIT = 200 * MiB


def bomb() -> bytes:
    """About 30 KB of gzip that inflates to 30 MiB of JSON: millions of small integers once
    parsed, several hundred MiB of Python objects."""
    return gzip.compress(b"[" + b"0," * (15 * MiB) + b"0]", compresslevel=9)


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[tuple[str, Proc, str, Ed25519PrivateKey]]:
    """A served collector with one enrolled agent; yields its URL, process, the agent's id
    and key."""
    data = tmp_path / "collector"
    run_cli("esup-collector", "db", "upgrade", "--data-dir", str(data))
    out = run_cli(
        "esup-collector", "agents", "token", "--data-dir", str(data), "--department", "D1",
        "--name", "测试部门",
    )  # fmt: skip
    token = out.stdout.split("token:", 1)[1].split()[0]
    port = free_port()
    proc = collector_proc(data, port).start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz", 60, proc.log)
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        enrolled = httpx.post(
            f"{url}/api/v1/enrol", json={"token": token, "public_key": protocol.b64(public)}
        )
        assert enrolled.status_code == 200, enrolled.text
        yield url, proc, enrolled.json()["agent_id"], key
    finally:
        proc.kill()


class Watch:
    """Samples the collector's resident memory and /healthz answer times in the background."""

    def __init__(self, url: str, pid: int) -> None:
        self.url, self.process = url, psutil.Process(pid)
        self.peak_rss = self.rss()
        self.healthz_seconds: list[float] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._memory), threading.Thread(target=self._ping)]

    def rss(self) -> int:
        return int(self.process.memory_info().rss)

    def _memory(self) -> None:
        while not self.stop.is_set():
            self.peak_rss = max(self.peak_rss, self.rss())
            time.sleep(0.02)

    def _ping(self) -> None:
        with httpx.Client(timeout=120) as http:
            while not self.stop.is_set():
                started = time.monotonic()
                assert http.get(f"{self.url}/healthz").status_code == 200
                self.healthz_seconds.append(time.monotonic() - started)
                time.sleep(0.1)

    def __enter__(self) -> Watch:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join()


@pytest.mark.slow
def test_gzip_bombs_without_valid_credentials_are_refused_in_bounded_memory(
    collector: tuple[str, Proc, str, Ed25519PrivateKey],
) -> None:
    url, proc, agent_id, key = collector
    assert proc.popen is not None
    payload = bomb()
    assert len(payload) < 100 * 1024
    forger = Ed25519PrivateKey.generate()
    path = "/api/v1/batches"

    def headers(kind: str) -> dict[str, str]:
        base = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        if kind == "none":
            return base
        signer = key if kind == "signed" else forger
        who = agent_id if kind in ("forged", "signed") else "ag-0000000000000000"
        return {
            **base,
            **protocol.request_headers(signer, who, "POST", path, payload, encoding="gzip"),
        }

    kinds = ["none", "forged", "stranger"] * 16  # 48 bombs, 16 at a time

    def send(kind: str) -> int:
        with httpx.Client(timeout=120) as http:
            return http.post(f"{url}{path}", content=payload, headers=headers(kind)).status_code

    baseline = psutil.Process(proc.popen.pid).memory_info().rss
    with Watch(url, proc.popen.pid) as watch, ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(send, kinds))
        # The enrolled agent's own bombs: inflating stops at max_json_bytes, never parsed.
        signed = list(pool.map(send, ["signed"] * 8))
    growth = watch.peak_rss - baseline
    print(
        f"\n{len(kinds)} gzip bombs of {len(payload)} bytes: statuses {sorted(set(statuses))}, "
        f"collector memory {baseline / MiB:.0f} MiB -> peak {watch.peak_rss / MiB:.0f} MiB, "
        f"slowest /healthz {max(watch.healthz_seconds, default=0):.3f} s "
        f"over {len(watch.healthz_seconds)} probes"
    )
    assert growth < MEMORY_GROWTH_LIMIT, f"the collector grew by {growth / MiB:.0f} MiB"
    assert all(400 <= s < 500 for s in statuses), statuses
    # Refused at the door, unread: no signature (401), or too many at once from here (429).
    assert set(statuses) <= {401, 429}, statuses
    assert set(signed) <= {413, 429} and 413 in signed, signed
    assert watch.healthz_seconds, "no /healthz answer was observed during the attack"


def _slow_request(port: int, agent_id: str) -> socket.socket:
    """A request that passes the header checks and then sends its body very slowly."""
    sock = socket.create_connection(("127.0.0.1", port))
    signed = protocol.request_headers(
        Ed25519PrivateKey.generate(), agent_id, "POST", "/api/v1/batches", b"x"
    )
    head = "".join(f"{k}: {v}\r\n" for k, v in signed.items())
    sock.sendall(
        (
            "POST /api/v1/batches HTTP/1.1\r\nHost: collector\r\n"
            f"Content-Type: application/json\r\nContent-Length: 1000\r\n{head}\r\n"
        ).encode()
        + b"{"
    )
    return sock


@pytest.mark.slow
def test_an_address_holding_its_slots_with_slow_bodies_gets_429(
    collector: tuple[str, Proc, str, Ed25519PrivateKey],
) -> None:
    url, _proc, agent_id, _key = collector
    port = int(url.rsplit(":", 1)[1])
    held = [_slow_request(port, agent_id) for _ in range(4)]  # the default per address
    try:

        def refused() -> bool:
            response = httpx.post(f"{url}/api/v1/enrol", content=b"{}", timeout=30)
            return response.status_code == 429

        # The slow requests reach the door in their own time: wait until they hold it.
        deadline = time.monotonic() + 30
        while not refused():
            assert time.monotonic() < deadline, "the slow requests never held the slots"
            time.sleep(0.1)
        answer = httpx.post(f"{url}/api/v1/enrol", content=b"{}", timeout=30).json()
        assert answer["error"] == "too_many_requests"
        assert httpx.get(f"{url}/healthz", timeout=30).status_code == 200  # not held up
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 30
    while True:
        status = httpx.post(f"{url}/api/v1/enrol", content=b"{}", timeout=30).status_code
        if status != 429:
            break
        assert time.monotonic() < deadline, "the slots never came back"
        time.sleep(0.1)
    assert status == 400  # an empty enrolment, read again: the slots are back
