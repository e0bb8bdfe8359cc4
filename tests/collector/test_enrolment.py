"""Enrolment with one-time tokens, key rotation and revocation, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from collector.engine import audit
from collector.errors import EnrolmentError
from collector.store import enrolment
from collector.store.tables import agent_keys, audit_log, enrol_tokens
from collector.store.timestamps import utc_now
from exchange_spec import protocol

from .conftest import AgentSide, new_token, public_raw, sb


def test_a_token_enrols_once_and_pins_the_key_to_its_department(
    client: TestClient, engine: Engine
) -> None:
    token = new_token(engine, "DEPT-7")
    first = AgentSide(client)
    response = first.enrol(token)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["department"] == "DEPT-7"
    assert answer["agent_id"].startswith("ag-")
    with engine.connect() as conn:
        agent = enrolment.get_agent(conn, answer["agent_id"])
        stored = conn.execute(select(enrol_tokens.c.token_hash)).scalars().all()
    assert agent is not None and agent.public_key == public_raw(first.key)
    assert agent.hostname == "front-end-1"
    assert token not in stored  # only the hash is kept

    second = AgentSide(client).enrol(token)
    assert second.status_code == 403
    assert second.json()["error"] == "token_used"
    assert second.json()["message_zh"]


def test_an_unknown_or_expired_token_is_refused(client: TestClient, engine: Engine) -> None:
    assert AgentSide(client).enrol("no-such-token").json()["error"] == "token_unknown"
    expired = new_token(engine, hours=-1)
    response = AgentSide(client).enrol(expired)
    assert response.status_code == 403
    assert response.json()["error"] == "token_expired"


def test_a_bad_public_key_is_refused(client: TestClient, engine: Engine) -> None:
    response = client.post(
        "/api/v1/enrol", json={"token": new_token(engine), "public_key": "c2hvcnQ="}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "bad_public_key"


def enrol_together(engine: Engine, attempts: list[tuple[str, bytes]]) -> list[str]:
    """Enrol (token, public key) pairs in threads released at once; agent ids or error codes."""
    barrier = threading.Barrier(len(attempts))
    results: list[str] = []

    def attempt(token: str, key: bytes) -> None:
        barrier.wait()
        try:
            with engine.begin() as conn:
                results.append(enrolment.enrol(conn, token, key, now=utc_now()).agent_id)
        except EnrolmentError as exc:
            results.append(exc.code)

    threads = [threading.Thread(target=attempt, args=pair) for pair in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_concurrent_enrolments_with_one_token_enrol_one_agent(engine: Engine) -> None:
    token = new_token(engine)
    keys = [public_raw(Ed25519PrivateKey.generate()) for _ in range(2)]
    results = enrol_together(engine, [(token, key) for key in keys])
    assert sorted(r.startswith("ag-") for r in results) == [False, True]
    assert "token_used" in results


def rotate_envelope(
    agent: AgentSide, new_key: Ed25519PrivateKey, signer: Ed25519PrivateKey
) -> dict[str, Any]:
    """A rotation as the agent sends it: the new key proves itself, the current key signs."""
    manifest = protocol.rotate_manifest(agent.agent_id, new_key)
    return {"manifest": manifest, "signature": protocol.sign(signer, manifest)}


def unproven_rotate_envelope(
    agent: AgentSide, new_public: bytes, signer: Ed25519PrivateKey, proof: str | None = None
) -> dict[str, Any]:
    """A rotation naming a public key the sender may not hold (the old protocol, or a forged or
    borrowed proof)."""
    new_b64 = protocol.b64(new_public)
    extra: dict[str, Any] = {"new_public_key": new_b64}
    if proof is not None:
        extra["new_key_proof"] = proof
    manifest = protocol.body_manifest(
        "rotate", agent.agent_id, protocol.frame_hash({"new_public_key": new_b64}), **extra
    )
    return {"manifest": manifest, "signature": protocol.sign(signer, manifest)}


def pinned_key_id(engine: Engine, agent_id: str) -> str:
    with engine.connect() as conn:
        agent = enrolment.get_agent(conn, agent_id)
    assert agent is not None
    return agent.key_id


def test_rotation_replaces_the_key_and_refuses_the_old_one(
    agent: AgentSide, engine: Engine
) -> None:
    old, new = agent.key, Ed25519PrivateKey.generate()
    response = agent.post("/api/v1/rotate", rotate_envelope(agent, new, old))
    assert response.status_code == 200, response.text
    assert response.json()["key_id"] == protocol.key_id(public_raw(new))

    refused = agent.send([(1, sb("C1"))], key=old)
    assert refused.status_code == 401
    assert refused.json()["error"] == "bad_signature"
    agent.key = new
    agent.verified_receipt(agent.send([(1, sb("C1"))]))
    with engine.connect() as conn:
        history = conn.execute(
            select(agent_keys.c.key_id, agent_keys.c.valid_until).order_by(agent_keys.c.id)
        ).all()
    assert [h.key_id for h in history] == [
        protocol.key_id(public_raw(old)),
        protocol.key_id(public_raw(new)),
    ]
    assert history[0].valid_until is not None and history[1].valid_until is None
    rotations = audit_entries(engine, audit.AGENT_ROTATE)
    assert [(e.subject, e.details["old_key_id"], e.details["key_id"]) for e in rotations] == [
        (
            f"agent:{agent.agent_id}",
            protocol.key_id(public_raw(old)),
            protocol.key_id(public_raw(new)),
        )
    ]
    assert audit.verify(engine).broken_at is None


def test_rotation_asked_again_with_the_new_key_is_a_no_op(agent: AgentSide, engine: Engine) -> None:
    """An agent that lost the answer to its rotation asks again, signing with its new key."""
    new = Ed25519PrivateKey.generate()
    assert agent.post("/api/v1/rotate", rotate_envelope(agent, new, agent.key)).status_code == 200
    again = agent.post("/api/v1/rotate", rotate_envelope(agent, new, new), key=new)
    assert again.status_code == 200, again.text
    assert again.json()["key_id"] == protocol.key_id(public_raw(new))
    assert len(audit_entries(engine, audit.AGENT_ROTATE)) == 1


def test_rotation_signed_by_a_stranger_is_refused(agent: AgentSide) -> None:
    stranger = Ed25519PrivateKey.generate()
    response = agent.post("/api/v1/rotate", rotate_envelope(agent, stranger, stranger))
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"


def test_rotation_without_proof_of_the_new_key_is_refused(agent: AgentSide, engine: Engine) -> None:
    before = pinned_key_id(engine, agent.agent_id)
    new_public = public_raw(Ed25519PrivateKey.generate())
    response = agent.post("/api/v1/rotate", unproven_rotate_envelope(agent, new_public, agent.key))
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "bad_key_proof"
    assert "new_key_proof" in response.json()["message_zh"]
    assert pinned_key_id(engine, agent.agent_id) == before
    assert audit_entries(engine, audit.AGENT_ROTATE) == []


def test_rotation_to_another_agents_public_key_is_refused(
    client: TestClient, engine: Engine, agent: AgentSide
) -> None:
    """The attack of the issue: A rotates to B's public key (which is public) so that B's
    signed records verify as A's. Without B's private key A cannot prove the key: its proof is
    signed with a key of its own, or copied from a rotation B made."""
    victim = AgentSide(client)
    assert victim.enrol(new_token(engine, "D2")).status_code == 200
    before = pinned_key_id(engine, agent.agent_id)
    forged = protocol.sign(
        agent.key,
        protocol.rotate_proof_frame(
            {"agent_id": agent.agent_id, "new_public_key": protocol.b64(public_raw(victim.key))}
        ),
    )
    response = agent.post(
        "/api/v1/rotate",
        unproven_rotate_envelope(agent, public_raw(victim.key), agent.key, proof=forged),
    )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "bad_key_proof"

    # The victim rotates; its proof is bound to its agent id and its nonce and cannot be borrowed.
    victim_next = Ed25519PrivateKey.generate()
    victims = rotate_envelope(victim, victim_next, victim.key)
    assert victim.post("/api/v1/rotate", victims).status_code == 200
    borrowed = unproven_rotate_envelope(
        agent,
        public_raw(victim_next),
        agent.key,
        proof=victims["manifest"]["new_key_proof"],
    )
    response = agent.post("/api/v1/rotate", borrowed)
    assert response.status_code == 401
    assert response.json()["error"] == "bad_key_proof"
    assert pinned_key_id(engine, agent.agent_id) == before


@pytest.mark.parametrize("holder", ["active", "revoked", "itself before"])
def test_rotation_to_a_key_another_agent_holds_or_held_is_refused(
    client: TestClient, engine: Engine, agent: AgentSide, holder: str
) -> None:
    """Even with the private key (a cloned machine, a copied state directory), no two agents,
    active or revoked, share a public key, and an agent never goes back to an old key."""
    if holder == "itself before":
        shared = agent.key
        fresh = Ed25519PrivateKey.generate()
        assert (
            agent.post("/api/v1/rotate", rotate_envelope(agent, fresh, shared)).status_code == 200
        )
        agent.key = fresh
    else:
        other = AgentSide(client)
        assert other.enrol(new_token(engine, "D2")).status_code == 200
        shared = other.key
        if holder == "revoked":
            with engine.begin() as conn:
                enrolment.revoke(conn, other.agent_id, "machine retired", now=utc_now())
    before = pinned_key_id(engine, agent.agent_id)
    response = agent.post("/api/v1/rotate", rotate_envelope(agent, shared, agent.key))
    assert response.status_code == 409, response.text
    assert response.json()["error"] == "key_in_use"
    assert pinned_key_id(engine, agent.agent_id) == before
    # The refused rotation claimed nothing: the same nonce-fresh request with a new key works.
    assert (
        agent.post(
            "/api/v1/rotate", rotate_envelope(agent, Ed25519PrivateKey.generate(), agent.key)
        ).status_code
        == 200
    )


def test_a_revoked_agent_is_refused(agent: AgentSide, engine: Engine) -> None:
    agent.verified_receipt(agent.send([(1, sb("C1"))]))
    with engine.begin() as conn:
        enrolment.revoke(conn, agent.agent_id, "machine stolen", now=utc_now())
    response = agent.send([(2, sb("C2"))])
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "agent_revoked"
    assert "machine stolen" in body["message_en"]
    assert agent.heartbeat({"sent_at": "x"}).status_code == 403


def test_revoking_an_unknown_agent_says_so(engine: Engine) -> None:
    with engine.begin() as conn, pytest.raises(EnrolmentError) as caught:
        enrolment.revoke(conn, "ag-missing", "test", now=utc_now())
    assert caught.value.code == "unknown_agent"


def audit_entries(engine: Engine, action: str) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(audit_log).where(audit_log.c.action == action).order_by(audit_log.c.id)
            )
        )


def test_a_rotation_of_another_agent_sent_under_this_agents_request_signature_is_refused(
    client: TestClient, engine: Engine, agent: AgentSide
) -> None:
    """Agent A may not carry B's rotate envelope (B's manifest, signed by B) under A's own
    request signature, as batches and heartbeats may not."""
    other = AgentSide(client)
    assert other.enrol(new_token(engine, "D2")).status_code == 200
    before = pinned_key_id(engine, other.agent_id)
    new = Ed25519PrivateKey.generate()
    response = agent.post("/api/v1/rotate", rotate_envelope(other, new, other.key))
    assert (response.status_code, response.json()["error"]) == (401, "agent_mismatch")
    assert pinned_key_id(engine, other.agent_id) == before
