"""Two collector workers receiving the same records at once: one stores, the other sees
duplicates; nothing fails and nothing is doubled (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine, func, select

from collector.api.batches import ingest_batch
from collector.store.tables import deliveries, record_versions, records_current

from .conftest import AgentSide, sb


def test_the_same_batch_sent_twice_at_once_is_stored_once(agent: AgentSide, engine: Engine) -> None:
    ctx = agent.client.app.state.ctx  # type: ignore[attr-defined]
    records = [(seq, sb(f"K{seq}", sjbbh=2)) for seq in range(1, 201)]
    envelopes = [agent.batch(records), agent.batch(records)]  # fresh nonce each
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def deliver(envelope: dict[str, Any]) -> None:
        barrier.wait()
        answers.append(ingest_batch(ctx, envelope, "127.0.0.1", sender=None))

    threads = [threading.Thread(target=deliver, args=(e,)) for e in envelopes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 2
    for answer in answers:
        assert answer["receipt"]["covered"] == [[1, 200]]
        assert answer["receipt"]["rejected"] == []
    with engine.connect() as conn:
        for table in (deliveries, record_versions, records_current):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 200
