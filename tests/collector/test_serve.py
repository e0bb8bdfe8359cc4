"""`esup-collector serve` as a real process on 127.0.0.1: enrol and send a batch over a socket."""

from __future__ import annotations

import gzip
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exchange_spec import content_hash, protocol

from .conftest import public_raw, sb

COLLECTOR = str(Path(sys.executable).parent / "esup-collector")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_listening(proc: subprocess.Popen[bytes], port: int) -> None:
    # A readiness wait, not a timed assertion: it only bounds how long a broken start hangs.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"esup-collector serve exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("esup-collector serve did not start listening within 60 s")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    data = str(tmp_path / "data")
    token_out = subprocess.run(
        [COLLECTOR, "agents", "token", "--data-dir", data, "--department", "D1"],
        capture_output=True,
        text=True,
        check=False,
    )
    # The store is not migrated yet: the command says how to fix that.
    assert token_out.returncode == 1 and "db upgrade" in token_out.stderr
    subprocess.run([COLLECTOR, "db", "upgrade", "--data-dir", data], check=True)
    token_out = subprocess.run(
        [
            COLLECTOR,
            "agents",
            "token",
            "--data-dir",
            data,
            "--department",
            "D1",
            "--name",
            "一部门",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    token = token_out.stdout.split("token:", 1)[1].split()[0]
    port = free_port()
    proc = subprocess.Popen(
        [COLLECTOR, "serve", "--data-dir", data, "--port", str(port), "--log-level", "warning"]
    )
    try:
        wait_until_listening(proc, port)
        yield f"http://127.0.0.1:{port}", token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_serve_enrols_and_receives_a_batch_over_a_socket(served: tuple[str, str]) -> None:
    url, token = served
    key = Ed25519PrivateKey.generate()
    with httpx.Client(base_url=url, timeout=30) as http:
        enrolled = http.post(
            "/api/v1/enrol",
            json={"token": token, "public_key": protocol.b64(public_raw(key))},
        )
        assert enrolled.status_code == 200, enrolled.text
        answer = enrolled.json()
        collector_key = protocol.unb64(answer["collector_public_key"], "key")
        records = [(1, sb("S1")), (2, sb("S2", department="D2"))]
        manifest = protocol.batch_manifest(
            answer["agent_id"], [(s, content_hash(r)) for s, r in records]
        )
        envelope = {
            "manifest": manifest,
            "signature": protocol.sign(key, manifest),
            "records": [{"seq": s, "record": r} for s, r in records],
        }
        body = gzip.compress(json.dumps(envelope).encode())
        signed = protocol.request_headers(
            key, answer["agent_id"], "POST", "/api/v1/batches", body, encoding="gzip"
        )
        response = http.post(
            "/api/v1/batches",
            content=body,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip", **signed},
        )
        assert response.status_code == 200, response.text
        receipt = response.json()
        protocol.verify(collector_key, receipt["receipt"], receipt["signature"])
        assert receipt["receipt"]["covered"] == [[1, 2]]
        assert [r["code"] for r in receipt["receipt"]["rejected"]] == ["wrong_department"]
        assert http.get("/healthz").json()["collector_key_id"] == answer["collector_key_id"]
        assert http.get("/readyz").json()["status"] == "ready"
