"""POST /api/v1/heartbeat: stored on the agent, answered with a signed collector time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from collector.store import enrolment
from exchange_spec import protocol

from .conftest import AgentSide


def test_a_heartbeat_is_stored_and_answered_with_signed_time(
    agent: AgentSide, engine: Engine
) -> None:
    body = {"sent_at": "2026-11-30T08:00:00+00:00", "outbox_pending": 12, "name": "前置机"}
    response = agent.heartbeat(body)
    assert response.status_code == 200, response.text
    answer = response.json()
    protocol.verify(agent.collector_key, answer["ack"], answer["signature"])
    assert answer["ack"]["kind"] == "heartbeat_ack"
    assert answer["ack"]["agent_id"] == agent.agent_id
    assert answer["collector_time"] == answer["ack"]["collector_time"]
    assert datetime.fromisoformat(answer["collector_time"]).tzinfo is not None
    with engine.connect() as conn:
        stored = enrolment.get_agent(conn, agent.agent_id)
    assert stored is not None
    assert stored.last_heartbeat == body
    assert stored.last_heartbeat_at is not None
    assert stored.clock_offset is not None


def test_a_heartbeat_whose_body_does_not_match_its_hash_is_refused(agent: AgentSide) -> None:
    body = {"sent_at": "2026-11-30T08:00:00+00:00"}
    manifest = protocol.body_manifest("heartbeat", agent.agent_id, protocol.frame_hash(body))
    envelope = {
        "manifest": manifest,
        "signature": protocol.sign(agent.key, manifest),
        "heartbeat": {"sent_at": "changed"},
    }
    response = agent.post("/api/v1/heartbeat", envelope)
    assert response.status_code == 400
    assert response.json()["error"] == "tampered"


def test_a_replayed_heartbeat_is_refused(agent: AgentSide) -> None:
    body = {"sent_at": "2026-11-30T08:00:00+00:00"}
    manifest = protocol.body_manifest("heartbeat", agent.agent_id, protocol.frame_hash(body))
    envelope = {
        "manifest": manifest,
        "signature": protocol.sign(agent.key, manifest),
        "heartbeat": body,
    }
    assert agent.post("/api/v1/heartbeat", envelope).status_code == 200
    assert agent.post("/api/v1/heartbeat", envelope).status_code == 409
