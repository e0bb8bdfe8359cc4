"""A batch that commits after a later one is still evaluated: the ingest marks its cases in
its own transaction, so the dirty sweep does not depend on received times alone."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import Engine, func, select

from collector.engine.sweep import run_sweep
from collector.store.enrolment import ensure_department
from collector.store.ingest import RecordWriter, Source
from collector.store.tables import engine_dirty_cases
from tests.collector.engine.records import DEPT, at, sl, store

SLSJ = "2026-09-24T10:00:00+08:00"


def test_a_late_committed_batch_is_evaluated_by_the_next_dirty_sweep(
    store_engine: Engine,
) -> None:
    store(store_engine, [sl("E-1", SLSJ), sl("E-2", SLSJ)], received_at=at("2026-09-24 11:00"))
    assert run_sweep(store_engine, mode="dirty", at=at("2026-09-24 12:00")).cases == 2

    # Received at 10:30 but committed only now, after the watermark moved to 11:00.
    with store_engine.begin() as conn:
        ensure_department(conn, DEPT)
        outcomes = RecordWriter(
            conn,
            Source("import:late.jsonl", DEPT),
            now=at("2026-09-24 10:30").astimezone(UTC),  # as the collector stores it
        ).store_many([(None, sl("L-1", SLSJ), None)])
    assert [o.status for o in outcomes] == ["accepted"]

    late = run_sweep(store_engine, mode="dirty", at=at("2026-09-24 12:05"))
    assert late.cases == 1
    with store_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(engine_dirty_cases)).scalar() == 0
    assert run_sweep(store_engine, mode="dirty", at=at("2026-09-24 12:06")).cases == 0
