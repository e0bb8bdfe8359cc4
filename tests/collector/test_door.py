"""The door of the agent API: request signature headers are checked before a body is inflated
or parsed, bodies are capped, and an address has only a few unauthenticated requests open."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from collector.api.door import Door
from collector.errors import IngestRefused
from collector.store.enrolment import revoke
from collector.store.tables import nonces
from collector.store.timestamps import utc_now
from exchange_spec import protocol

from .conftest import AgentSide, sb

SIGNED_ROUTES = ("/api/v1/batches", "/api/v1/heartbeat", "/api/v1/rotate")


def gzip_bomb(size: int) -> bytes:
    """A small gzip that inflates to ``size`` bytes of a JSON array of zeros."""
    return gzip.compress(b"[" + b"0," * (size // 2) + b"0]", compresslevel=9)


@pytest.mark.parametrize("path", SIGNED_ROUTES)
def test_an_unsigned_request_is_refused_before_its_body_is_read(
    client: TestClient, path: str
) -> None:
    # A gzip bomb, garbage and deep nesting alike: nothing is inflated or parsed.
    for body, encoding in [
        (gzip_bomb(30 * 1024 * 1024), "gzip"),
        (b"not json", "identity"),
        (b"[" * 5000 + b"]" * 5000, "identity"),
    ]:
        response = client.post(
            path,
            content=body,
            headers={"Content-Type": "application/json", "Content-Encoding": encoding},
        )
        assert response.status_code == 401, response.text
        answer = response.json()
        assert answer["error"] == "unsigned_request"
        assert "X-Esup-Signature" in answer["message_en"]


def test_a_request_signed_with_another_key_is_refused(agent: AgentSide) -> None:
    envelope = agent.batch([(1, sb("C1"))])
    body = json.dumps(envelope).encode()
    forged = protocol.request_headers(
        Ed25519PrivateKey.generate(), agent.agent_id, "POST", "/api/v1/batches", body
    )
    response = agent.client.post("/api/v1/batches", content=body, headers=forged)
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"


def test_the_signature_covers_body_path_and_encoding(agent: AgentSide) -> None:
    envelope = agent.batch([(1, sb("C1"))])
    body = json.dumps(envelope).encode()
    signed = protocol.request_headers(agent.key, agent.agent_id, "POST", "/api/v1/batches", body)
    tampered = body.replace(b'"C1"', b'"C9"')
    for path, content, encoding in [
        ("/api/v1/batches", tampered, "identity"),  # other bytes
        ("/api/v1/heartbeat", body, "identity"),  # signed for another route
        ("/api/v1/batches", gzip.compress(body), "gzip"),  # other bytes and encoding
    ]:
        response = agent.client.post(
            path, content=content, headers={**signed, "Content-Encoding": encoding}
        )
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"] == "bad_signature"
    assert agent.client.post("/api/v1/batches", content=body, headers=signed).status_code == 200


def test_a_replayed_request_is_refused(agent: AgentSide, engine: Engine) -> None:
    body = json.dumps(agent.batch([(1, sb("C1"))])).encode()
    signed = protocol.request_headers(agent.key, agent.agent_id, "POST", "/api/v1/batches", body)
    assert agent.client.post("/api/v1/batches", content=body, headers=signed).status_code == 200
    again = agent.client.post("/api/v1/batches", content=body, headers=signed)
    assert again.status_code == 409
    assert again.json()["error"] == "replayed"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(nonces)).scalar_one() == 2


def test_a_request_signed_at_a_stale_time_is_refused_with_the_collector_clock(
    agent: AgentSide,
) -> None:
    old = (utc_now() - timedelta(hours=2)).isoformat()
    body = json.dumps(agent.batch([(1, sb("C1"))])).encode()
    signed = protocol.request_headers(
        agent.key, agent.agent_id, "POST", "/api/v1/batches", body, time=old
    )
    response = agent.client.post("/api/v1/batches", content=body, headers=signed)
    assert response.status_code == 401
    assert response.json()["error"] == "stale"
    assert "collector_time" in response.json()


def test_unknown_agents_are_refused_before_their_body_is_read_revoked_ones_within_the_caps(
    agent: AgentSide, engine: Engine
) -> None:
    bomb = gzip_bomb(30 * 1024 * 1024)
    stranger = AgentSide(agent.client, agent_id="ag-0000000000000000")
    response = stranger.post_bytes("/api/v1/batches", bomb, compress=True)
    assert (response.status_code, response.json()["error"]) == (401, "unknown_agent")
    with engine.begin() as conn:
        revoke(conn, agent.agent_id, "test", now=utc_now())
    # A revoked agent still proves who it is, so its envelope is read (within the caps) to be
    # answered with the signed refusal naming its manifest: the one answer that stops it.
    response = agent.post_bytes("/api/v1/batches", bomb, compress=True)
    assert (response.status_code, response.json()["error"]) == (413, "too_large")
    response = agent.send([(1, sb("C1"))])
    assert (response.status_code, response.json()["error"]) == (403, "agent_revoked")
    refusal = response.json()["refusal"]
    protocol.verify(agent.collector_key, refusal, response.json()["refusal_signature"])


def test_a_manifest_of_another_agent_is_refused(agent: AgentSide, engine: Engine) -> None:
    from .conftest import new_token

    other = AgentSide(agent.client)
    assert other.enrol(new_token(engine)).status_code == 200
    # Signed by the other agent, sent under this agent's request signature.
    envelope = other.batch([(1, sb("C1"))])
    response = agent.post("/api/v1/batches", envelope)
    assert response.status_code == 401
    assert response.json()["error"] == "agent_mismatch"


def test_malformed_signature_headers_are_refused_with_the_header_named(
    agent: AgentSide,
) -> None:
    body = b"{}"
    good = protocol.request_headers(agent.key, agent.agent_id, "POST", "/api/v1/batches", body)
    for name, value in [
        (protocol.TIME_HEADER, "yesterday"),
        (protocol.NONCE_HEADER, "short"),
        (protocol.AGENT_HEADER, "ag 1 ; drop"),
        (protocol.SIGNATURE_HEADER, "not base64!"),
    ]:
        response = agent.client.post("/api/v1/batches", content=body, headers={**good, name: value})
        assert response.status_code == 401, (name, response.text)
        assert name in response.json()["message_en"] or response.json()["error"] == (
            "bad_signature"
        )


def test_a_body_over_the_limit_is_refused_from_its_declared_length(
    agent: AgentSide, settings: object
) -> None:
    limit = settings.max_body_bytes  # type: ignore[attr-defined]
    response = agent.post_bytes("/api/v1/heartbeat", b" " * (limit + 1))
    assert response.status_code == 413


def test_an_unknown_content_encoding_is_refused(agent: AgentSide) -> None:
    response = agent.post_bytes("/api/v1/batches", b"{}", **{"Content-Encoding": "br"})
    assert response.status_code == 415


def test_enrolment_is_capped_small(client: TestClient) -> None:
    body = json.dumps({"token": "x" * 5000, "public_key": "AAAA"}).encode()
    response = client.post("/api/v1/enrol", content=body)
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    bomb = client.post(
        "/api/v1/enrol",
        content=gzip_bomb(10 * 1024 * 1024),
        headers={"Content-Encoding": "gzip"},
    )
    assert bomb.status_code == 413


def test_an_address_has_a_bounded_number_of_unauthenticated_requests() -> None:
    door = Door(per_address=2, parse_workers=1)
    with door.unauthenticated("10.0.0.1"), door.unauthenticated("10.0.0.1"):
        with pytest.raises(IngestRefused) as refused, door.unauthenticated("10.0.0.1"):
            pass
        assert refused.value.status == 429 and refused.value.code == "too_many_requests"
        with door.unauthenticated("10.0.0.2"):  # another address is not held up
            pass
    with door.unauthenticated("10.0.0.1"):  # slots come back when requests end
        pass
    assert door.waiting == {}
