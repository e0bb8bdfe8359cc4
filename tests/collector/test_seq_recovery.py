"""What the collector tells an agent whose numbering fell behind (a state directory restored
from a backup), and the one refusal it signs, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine

from collector.store import enrolment
from collector.store.timestamps import utc_now
from exchange_spec import protocol

from .conftest import AgentSide, sb


def test_a_reused_seq_is_refused_with_the_agents_last_seq_inside_the_signed_receipt(
    agent: AgentSide,
) -> None:
    agent.verified_receipt(agent.send([(1, sb("C1")), (2, sb("C2")), (3, sb("C3"))]))
    # seq 2 again with another record, seq 1 again with the same one: a restored agent.
    receipt = agent.verified_receipt(agent.send([(1, sb("C1")), (2, sb("C9"))]))
    [refusal] = receipt["rejected"]
    assert refusal["seq"] == 2 and refusal["code"] == "seq_reused"
    assert protocol.read_last_seq(refusal) == 3
    assert "3" in refusal["message_zh"] and "above 3" in refusal["message_en"]
    assert receipt["covered"] == [[1, 2]]


def test_the_heartbeat_acknowledgement_signs_the_agents_last_seq(agent: AgentSide) -> None:
    body = {"outbox_pending": 0}
    first = agent.heartbeat(body).json()
    protocol.verify(agent.collector_key, first["ack"], first["signature"])
    assert protocol.read_last_seq(first["ack"]) == 0
    agent.verified_receipt(agent.send([(4, sb("C1")), (7, sb("C2"))]))
    answer = agent.heartbeat(body).json()
    protocol.verify(agent.collector_key, answer["ack"], answer["signature"])
    assert protocol.read_last_seq(answer["ack"]) == 7


def test_a_revoked_agent_gets_a_refusal_signed_for_the_manifest_it_sent(
    agent: AgentSide, engine: Engine
) -> None:
    with engine.begin() as conn:
        enrolment.revoke(conn, agent.agent_id, "machine stolen", now=utc_now())
    envelope = agent.batch([(1, sb("C1"))])
    response = agent.post("/api/v1/batches", envelope)
    assert response.status_code == 403
    body = response.json()
    manifest = envelope["manifest"]
    assert (
        protocol.verify_refusal(agent.collector_key, body, agent.agent_id, manifest)
        == "agent_revoked"
    )
    # Not for another request, nor with the frame altered.
    other = agent.batch([(1, sb("C1"))])["manifest"]
    assert protocol.verify_refusal(agent.collector_key, body, agent.agent_id, other) is None
    body["refusal"]["code"] = "agent_revoked "
    assert protocol.verify_refusal(agent.collector_key, body, agent.agent_id, manifest) is None
