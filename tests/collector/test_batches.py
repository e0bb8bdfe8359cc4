"""POST /api/v1/batches on SQLite and PostgreSQL: signed receipts and every refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, func, select

from collector.store.gaps import sequence_gaps
from collector.store.tables import (
    batches,
    deliveries,
    invalid_records,
    record_versions,
    records_current,
)
from exchange_spec import protocol

from .conftest import AgentSide, sb


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_batch_is_stored_and_answered_with_a_signed_receipt(
    agent: AgentSide, engine: Engine
) -> None:
    envelope = agent.batch([(1, sb("C1")), (2, sb("C2"))])
    receipt = agent.verified_receipt(agent.post("/api/v1/batches", envelope, compress=True))
    assert receipt["kind"] == "receipt"
    assert receipt["agent_id"] == agent.agent_id
    assert receipt["manifest_hash"] == protocol.frame_hash(envelope["manifest"])
    assert receipt["covered"] == [[1, 2]]
    assert receipt["rejected"] == []
    assert count(engine, records_current) == 2
    with engine.connect() as conn:
        kept = conn.execute(select(batches)).one()
        current = conn.execute(
            select(records_current).where(records_current.c.business_key == "SB|C1")
        ).one()
    # The manifest and its signature are kept as evidence, and verify later.
    protocol.verify(
        protocol.unb64(protocol.b64(agent.key.public_key().public_bytes_raw()), "k"),
        kept.manifest,
        kept.signature,
    )
    assert current.event_time == "2026-11-30T09:00:00+08:00"
    assert current.received_at is not None
    assert current.department == "D1"


def test_a_replayed_batch_is_refused(agent: AgentSide, engine: Engine) -> None:
    envelope = agent.batch([(1, sb("C1"))])
    agent.verified_receipt(agent.post("/api/v1/batches", envelope))
    again = agent.post("/api/v1/batches", envelope)
    assert again.status_code == 409
    assert again.json()["error"] == "replayed"
    assert count(engine, batches) == 1


def test_a_tampered_record_refuses_the_whole_batch(agent: AgentSide, engine: Engine) -> None:
    envelope = agent.batch([(1, sb("C1")), (2, sb("C2"))])
    envelope["records"][1]["record"]["SQRMC"] = "李四"
    response = agent.post("/api/v1/batches", envelope)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "tampered"
    assert "seq 2" in body["message_en"] and body["message_zh"] and body["hint"]
    assert count(engine, records_current) == 0
    assert count(engine, batches) == 0


def test_records_that_are_not_the_signed_seqs_are_tampering(agent: AgentSide) -> None:
    envelope = agent.batch([(1, sb("C1")), (2, sb("C2"))])
    envelope["records"].pop()
    response = agent.post("/api/v1/batches", envelope)
    assert response.status_code == 400
    assert response.json()["error"] == "tampered"


def test_a_batch_signed_with_another_key_is_refused(agent: AgentSide, engine: Engine) -> None:
    response = agent.send([(1, sb("C1"))], key=Ed25519PrivateKey.generate())
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"
    assert count(engine, records_current) == 0


def test_an_unknown_agent_is_refused(agent: AgentSide) -> None:
    agent.agent_id = "ag-nobody"
    response = agent.send([(1, sb("C1"))])
    assert response.status_code == 401
    assert response.json()["error"] == "unknown_agent"


def test_a_stale_batch_is_refused_and_names_the_clock_offset(agent: AgentSide) -> None:
    old = (datetime.now(UTC) - timedelta(seconds=1000)).isoformat()
    response = agent.send([(1, sb("C1"))], created_at=old)
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "stale"
    assert "NTP" in body["message_en"] and "behind" in body["message_en"]
    assert "-100" in body["message_en"]  # about -1000 s
    assert "collector_time" in body


def test_a_record_of_another_department_is_rejected_with_its_reason(
    agent: AgentSide, engine: Engine
) -> None:
    receipt = agent.verified_receipt(agent.send([(1, sb("C1")), (2, sb("C2", department="OTHER"))]))
    assert receipt["covered"] == [[1, 2]]
    assert [(r["seq"], r["code"], r["path"]) for r in receipt["rejected"]] == [
        (2, "wrong_department", "BMBM")
    ]
    assert "OTHER" in receipt["rejected"][0]["message_en"]
    with engine.connect() as conn:
        assert conn.execute(select(records_current.c.business_key)).scalars().all() == ["SB|C1"]
        invalid = conn.execute(select(invalid_records)).one()
    assert invalid.seq == 2 and invalid.problems[0]["code"] == "wrong_department"


def test_an_invalid_record_is_kept_with_its_reason_and_does_not_block_the_rest(
    agent: AgentSide, engine: Engine
) -> None:
    broken = sb("C2")
    del broken["SBLSH"]
    receipt = agent.verified_receipt(agent.send([(1, sb("C1")), (2, broken), (3, sb("C3"))]))
    assert receipt["covered"] == [[1, 3]]
    assert {r["seq"] for r in receipt["rejected"]} == {2}
    assert all(r["message_zh"] and r["message_en"] and r["code"] for r in receipt["rejected"])
    assert count(engine, records_current) == 2
    with engine.connect() as conn:
        invalid = conn.execute(select(invalid_records)).one()
        delivery = conn.execute(select(deliveries).where(deliveries.c.seq == 2)).one()
    assert invalid.agent_id == agent.agent_id and invalid.body["SQRMC"] == "张三"
    assert any("SBLSH" in p["path"] or "SBLSH" in p["message_en"] for p in invalid.problems)
    assert delivery.status == "rejected" and delivery.invalid_id == invalid.id


def test_a_resent_seq_is_a_duplicate_and_nothing_is_doubled(
    agent: AgentSide, engine: Engine
) -> None:
    agent.verified_receipt(agent.send([(1, sb("C1")), (2, sb("C2"))]))
    receipt = agent.verified_receipt(agent.send([(2, sb("C2")), (3, sb("C3"))]))
    assert receipt["covered"] == [[2, 3]]
    assert receipt["rejected"] == []
    assert count(engine, record_versions) == 3
    assert count(engine, deliveries) == 3
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(deliveries.c.seq, deliveries.c.status)).all())
    assert statuses == {1: "accepted", 2: "accepted", 3: "accepted"}


def test_a_resent_rejected_seq_is_covered_with_its_reason_again(agent: AgentSide) -> None:
    other = sb("C1", department="OTHER")
    agent.verified_receipt(agent.send([(1, other)]))
    receipt = agent.verified_receipt(agent.send([(1, other)]))
    assert receipt["covered"] == [[1, 1]]
    assert [r["code"] for r in receipt["rejected"]] == ["wrong_department"]


def test_the_highest_sjbbh_wins_and_a_late_lower_one_does_not_replace_it(
    agent: AgentSide, engine: Engine
) -> None:
    agent.verified_receipt(agent.send([(1, sb("C1", sjbbh=1, SQRMC="一"))]))
    agent.verified_receipt(agent.send([(2, sb("C1", sjbbh=3, SQRMC="三"))]))
    receipt = agent.verified_receipt(agent.send([(3, sb("C1", sjbbh=2, SQRMC="二"))]))
    assert receipt["rejected"] == []
    with engine.connect() as conn:
        current = conn.execute(select(records_current)).one()
        versions = conn.execute(select(record_versions.c.sjbbh)).scalars().all()
        statuses = dict(conn.execute(select(deliveries.c.seq, deliveries.c.status)).all())
    assert (current.sjbbh, current.body["SQRMC"]) == (3, "三")
    assert sorted(versions) == [1, 2, 3]
    assert statuses == {1: "accepted", 2: "accepted", 3: "superseded"}


def test_same_sjbbh_with_other_content_is_a_version_conflict(
    agent: AgentSide, engine: Engine
) -> None:
    agent.verified_receipt(agent.send([(1, sb("C1", SQRMC="一"))]))
    receipt = agent.verified_receipt(agent.send([(2, sb("C1", SQRMC="改"))]))
    assert [(r["seq"], r["code"]) for r in receipt["rejected"]] == [(2, "version_conflict")]
    assert "SJBBH" in receipt["rejected"][0]["message_en"]
    with engine.connect() as conn:
        assert conn.execute(select(records_current.c.body)).scalar_one()["SQRMC"] == "一"
        assert conn.execute(select(invalid_records.c.problems)).scalar_one()[0]["code"] == (
            "version_conflict"
        )


def test_same_version_under_a_new_seq_is_a_duplicate(agent: AgentSide, engine: Engine) -> None:
    agent.verified_receipt(agent.send([(1, sb("C1"))]))
    receipt = agent.verified_receipt(agent.send([(2, sb("C1"))]))
    assert receipt["rejected"] == []
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(deliveries.c.seq, deliveries.c.status)).all())
    assert statuses == {1: "accepted", 2: "duplicate"}
    assert count(engine, record_versions) == 1


def test_gaps_in_an_agents_sequence_are_visible(agent: AgentSide, engine: Engine) -> None:
    agent.verified_receipt(agent.send([(2, sb("C2")), (3, sb("C3"))]))
    agent.verified_receipt(agent.send([(7, sb("C7")), (9, sb("C9"))]))
    with engine.connect() as conn:
        assert sequence_gaps(conn) == {agent.agent_id: [[1, 1], [4, 6], [8, 8]]}
    agent.verified_receipt(agent.send([(1, sb("C1")), (8, sb("C8"))]))
    with engine.connect() as conn:
        assert sequence_gaps(conn, agent.agent_id) == {agent.agent_id: [[4, 6]]}


def test_a_body_over_the_limit_is_refused(agent: AgentSide, settings: object) -> None:
    limit = settings.max_body_bytes  # type: ignore[attr-defined]
    response = agent.post_bytes("/api/v1/batches", b"{" + b" " * limit + b"}")
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"


def test_a_gzip_bomb_is_refused(agent: AgentSide, settings: object) -> None:
    import gzip

    limit = settings.max_json_bytes  # type: ignore[attr-defined]
    response = agent.post_bytes(
        "/api/v1/batches", gzip.compress(b" " * (limit + 10)), compress=True
    )
    assert response.status_code == 413
    assert "decompressed" in response.json()["message_en"]


def test_garbage_is_malformed(agent: AgentSide) -> None:
    response = agent.post_bytes("/api/v1/batches", b"not json")
    assert response.status_code == 400
    assert response.json()["error"] == "malformed"


def test_a_broken_store_answers_503_so_the_agent_retries(agent: AgentSide, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE nonces")
    response = agent.send([(1, sb("C1"))])
    assert response.status_code == 503
    assert response.json()["error"] == "store_unavailable"


def test_values_a_database_cannot_hold_are_rejected_not_poisoning_the_batch(
    agent: AgentSide, engine: Engine
) -> None:
    records = [
        (1, sb("C\x00NUL")),
        (3, sb("C3", SQRMC="张\x00三")),  # NUL inside the body only: kept as JSON
        (4, sb("C4")),
    ]
    receipt = agent.verified_receipt(agent.send(records))
    assert receipt["covered"] == [[1, 1], [3, 4]]
    assert [(r["seq"], r["code"]) for r in receipt["rejected"]] == [(1, "schema.nul")]
    with engine.connect() as conn:
        current = set(conn.execute(select(records_current.c.business_key)).scalars())
        kept = {
            r.seq: r.problems[0]["code"]
            for r in conn.execute(select(invalid_records.c.seq, invalid_records.c.problems))
        }
    assert {"SB|C3", "SB|C4"} == current
    assert kept == {1: "schema.nul"}


def test_a_number_json_cannot_hash_is_malformed(agent: AgentSide) -> None:
    envelope = agent.batch([(1, sb("C1"))])
    envelope["records"][0]["record"]["SJBBH"] = 2**60
    response = agent.post("/api/v1/batches", envelope)
    assert response.status_code == 400
    assert response.json()["error"] == "malformed"
