"""The agent's pusher, heartbeat and enrolment against the real collector app, in process
(its TestClient is an httpx.Client, so the agent's code runs unchanged)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from agent.enrol import enrol
from agent.heartbeat import send_heartbeat
from agent.push import Pusher
from agent.signing import AgentKeys
from agent.state import Outbox, OutboxRecord
from collector.store.enrolment import create_token, revoke
from collector.store.timestamps import utc_now

from .agent_setup import sb_records

DEPARTMENT = "114307020000000001"  # BMBM of the records the test mapping makes


def test_enrol_push_heartbeat_and_revocation_with_the_real_collector(
    tmp_path: Path, collector: tuple[TestClient, Any]
) -> None:
    client, engine = collector
    with engine.begin() as conn:
        token = create_token(
            conn, DEPARTMENT, now=utc_now(), expires_hours=1, department_name="测试部门"
        )
    keys = AgentKeys(tmp_path / "state")
    enrolment = enrol(client, keys, token=token, department=DEPARTMENT)

    records = sb_records(7)
    broken = dict(records[6], SBSJ="not a time")
    with Outbox(tmp_path / "state" / "o.db") as outbox:
        seqs = outbox.commit_chunk(
            "xzsp", "SB:T", [OutboxRecord.from_record(r) for r in [*records[:6], broken]]
        ).seqs
        pusher = Pusher(outbox, keys, enrolment, client, batch_max_records=4)
        outcome = pusher.push()
        assert outcome.error is None, outcome.error
        assert (outcome.delivered, outcome.rejected) == (6, 1)
        assert outbox.record(seqs[6])["state"] == "rejected"

        send_heartbeat(outbox, keys, enrolment, client)
        assert outbox.link.clock_offset is not None  # from the signed ack

        with engine.begin() as conn:
            revoke(conn, enrolment.agent_id, "test", now=utc_now())
        outbox.commit_chunk("xzsp", "SB:T", [OutboxRecord.from_record(sb_records(8)[7])])
        outcome = pusher.push()
        assert outcome.stopped and "agent_revoked" in outcome.error
        assert outbox.stats()["pending"] == 1
