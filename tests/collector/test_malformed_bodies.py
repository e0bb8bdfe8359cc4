"""Every malformed body gets a 400 that says what is wrong and where: never a 500.

These are the bodies that gave a 500 before (JSON nested 2,000 deep on every POST route, a
signed heartbeat holding NaN or 10**30) and their neighbours.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from exchange_spec import protocol

from .conftest import AgentSide, new_token, public_raw, sb

DEEP = b"[" * 2000 + b"]" * 2000  # 4,000 bytes: under every route's cap
SIGNED_ROUTES = ("/api/v1/batches", "/api/v1/heartbeat", "/api/v1/rotate")


def assert_malformed(response: Any, *words: str) -> None:
    assert response.status_code == 400, response.text
    answer = response.json()
    assert answer["error"] == "malformed"
    assert answer["message_zh"] and answer["hint"]
    for word in words:
        assert word in answer["message_en"], answer["message_en"]


def signed_heartbeat(agent: AgentSide, body_text: str) -> bytes:
    """A heartbeat envelope whose body is ``body_text`` verbatim (json.dumps would refuse
    what a hostile agent sends), with a manifest signed over a body hash it chooses."""
    manifest = protocol.body_manifest("heartbeat", agent.agent_id, "0" * 64)
    signature = protocol.sign(agent.key, manifest)
    return (
        f'{{"manifest":{json.dumps(manifest)},"signature":"{signature}","heartbeat":{body_text}}}'
    ).encode()


def test_deep_json_on_enrolment_is_a_400(client: TestClient) -> None:
    deep_enrol = b'{"token":' + b"[" * 1500 + b"]" * 1500 + b"}"
    assert_malformed(client.post("/api/v1/enrol", content=deep_enrol), "nested deeper")


@pytest.mark.parametrize("path", SIGNED_ROUTES)
def test_deep_json_from_an_enrolled_agent_is_a_400_on_every_route(
    agent: AgentSide, path: str
) -> None:
    assert_malformed(agent.post_bytes(path, DEEP), "nested deeper")
    assert_malformed(agent.post_bytes(path, gzip.compress(DEEP), compress=True), "nested deeper")
    # Shallower than Python's recursion limit, deeper than anything the protocol sends.
    assert_malformed(agent.post_bytes(path, b"[" * 500 + b"]" * 500), "nested deeper", "$")


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("NaN", ["$.heartbeat.outbox_pending", "nan"]),
        ("Infinity", ["$.heartbeat.outbox_pending", "inf"]),
        ("-Infinity", ["$.heartbeat.outbox_pending"]),
        ("1e400", ["$.heartbeat.outbox_pending"]),
        (str(10**30), ["$.heartbeat.outbox_pending", str(10**30)]),
        ("9" * 5000, ["$.heartbeat.outbox_pending"]),
    ],
)
def test_a_signed_heartbeat_with_a_number_json_cannot_carry_is_a_400(
    agent: AgentSide, value: str, words: list[str]
) -> None:
    body = signed_heartbeat(agent, f'{{"outbox_pending":{value},"capturing":false}}')
    assert_malformed(agent.post_bytes("/api/v1/heartbeat", body), *words)


def test_a_lone_surrogate_is_a_400_that_names_where_it_is(agent: AgentSide) -> None:
    body = signed_heartbeat(agent, '{"agent_name":"\\ud800"}')
    assert_malformed(agent.post_bytes("/api/v1/heartbeat", body), "$.heartbeat.agent_name")


@pytest.mark.parametrize("field", ["hostname", "agent_version"])
def test_a_nul_in_an_enrolment_field_is_a_400(
    client: TestClient, engine: Engine, field: str
) -> None:
    # PostgreSQL text cannot hold a NUL: it failed the insert (503) instead of saying why.
    key = protocol.b64(public_raw(Ed25519PrivateKey.generate()))
    body = {"token": new_token(engine), "public_key": key, field: "front\u0000end"}
    response = client.post("/api/v1/enrol", content=json.dumps(body).encode())
    assert_malformed(response, f"$.{field}", "NUL")


def test_a_nul_in_a_manifest_nonce_is_a_400(agent: AgentSide) -> None:
    envelope = agent.batch([(1, sb("C1"))], nonce="0123456789abcdef\u0000")
    # The signature is over this very manifest: only the nonce's shape is wrong.
    response = agent.post("/api/v1/batches", envelope)
    assert_malformed(response, "nonce")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"not json", ["line 1 column 1"]),
        (b'{"manifest": {}, ', ["line 1 column"]),
        (b"\xff\xfe{}", ["UTF-8", "byte 0"]),
        (b"[]", []),
        (b"null", []),
        (b'{"manifest": [], "signature": 1}', []),
    ],
)
def test_broken_json_from_an_enrolled_agent_is_a_400(
    agent: AgentSide, body: bytes, words: list[str]
) -> None:
    assert_malformed(agent.post_bytes("/api/v1/batches", body), *words)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (gzip.compress(b"{}")[:-6], ["truncated"]),
        (gzip.compress(b"{}")[:10] + b"\xff" * 20, ["corrupt"]),  # a reserved block type
        (gzip.compress(b"{}") + b"tail", ["after the end"]),
    ],
)
def test_broken_gzip_is_a_400(agent: AgentSide, body: bytes, words: list[str]) -> None:
    assert_malformed(agent.post_bytes("/api/v1/batches", body, compress=True), *words)


def test_a_backlog_beyond_any_outbox_is_not_a_server_error(agent: AgentSide) -> None:
    # 2**40 is exact in JSON but beyond the store's integer column (PostgreSQL int4).
    response = agent.heartbeat({"outbox_pending": 2**40, "capturing": False})
    assert response.status_code < 500, response.text
    envelope = agent.batch([(1, sb("C1"))], backlog=protocol.Backlog(2**40, False))
    assert_malformed(agent.post("/api/v1/batches", envelope), "backlog")
