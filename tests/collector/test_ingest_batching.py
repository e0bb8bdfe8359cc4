"""A batch is stored with a few statements for all its records, yet every record gets the
outcome it would get if the records were stored one after the other (SQLite and PostgreSQL).

The reference is the same writer fed one record at a time; a seeded mix of repeated keys,
versions, contents, seqs and invalid records goes through both and must leave the same
outcomes and the same tables.
"""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import Engine, select

from collector.store.ingest import Outcome, RecordWriter, Source
from collector.store.tables import deliveries, invalid_records, record_versions, records_current
from collector.store.timestamps import utc_now

from .conftest import DEPARTMENT, AgentSide, new_token, sb


def _writer_source(agent: AgentSide) -> Source:
    return Source(name=agent.agent_id, department=DEPARTMENT, agent_id=agent.agent_id)


def store_many(engine: Engine, source: Source, items: list[tuple[int, Any]]) -> list[Outcome]:
    with engine.begin() as conn:
        writer = RecordWriter(conn, source, now=utc_now())
        return writer.store_many([(seq, record, None) for seq, record in items])


def statuses(outcomes: list[Outcome]) -> list[tuple[str, list[str]]]:
    return [(o.status, [p["code"] for p in o.problems]) for o in outcomes]


def current(engine: Engine) -> dict[str, tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(records_current)).all()
    return {r.business_key: (r.sjbbh, r.body["SQRMC"]) for r in rows}


def test_versions_of_one_key_in_one_batch_settle_in_batch_order(
    agent: AgentSide, engine: Engine
) -> None:
    source = _writer_source(agent)
    outcomes = store_many(
        engine,
        source,
        [
            (1, sb("C1", sjbbh=1, SQRMC="一")),
            (2, sb("C1", sjbbh=3, SQRMC="三")),
            (3, sb("C1", sjbbh=2, SQRMC="二")),
            (4, sb("C2", sjbbh=5, SQRMC="五")),
            (5, sb("C2", sjbbh=4, SQRMC="四")),
        ],
    )
    assert statuses(outcomes) == [
        ("accepted", []),
        ("accepted", []),
        ("superseded", []),
        ("accepted", []),
        ("superseded", []),
    ]
    assert current(engine) == {"SB|C1": (3, "三"), "SB|C2": (5, "五")}
    with engine.connect() as conn:
        current_ids = set(conn.execute(select(records_current.c.version_id)).scalars())
        held = {
            (r.business_key, r.sjbbh): r.id for r in conn.execute(select(record_versions)).all()
        }
    assert len(held) == 5
    # records_current points at the version row it was copied from.
    assert current_ids == {held[("SB|C1", 3)], held[("SB|C2", 5)]}


def test_a_batch_below_and_above_the_held_version_is_superseded_then_accepted(
    agent: AgentSide, engine: Engine
) -> None:
    source = _writer_source(agent)
    store_many(engine, source, [(1, sb("C1", sjbbh=2, SQRMC="二"))])
    outcomes = store_many(
        engine,
        source,
        [
            (2, sb("C1", sjbbh=1, SQRMC="一")),
            (3, sb("C1", sjbbh=4, SQRMC="四")),
            (4, sb("C1", sjbbh=3, SQRMC="三")),
            (5, sb("C1", sjbbh=5, SQRMC="五")),
        ],
    )
    assert [o.status for o in outcomes] == ["superseded", "accepted", "superseded", "accepted"]
    assert current(engine) == {"SB|C1": (5, "五")}


def test_one_version_twice_in_a_batch_is_a_duplicate_or_a_conflict(
    agent: AgentSide, engine: Engine
) -> None:
    source = _writer_source(agent)
    outcomes = store_many(
        engine,
        source,
        [
            (1, sb("C1", SQRMC="一")),
            (2, sb("C1", SQRMC="一")),
            (3, sb("C1", SQRMC="改")),
        ],
    )
    assert statuses(outcomes) == [
        ("accepted", []),
        ("duplicate", []),
        ("rejected", ["version_conflict"]),
    ]
    with engine.connect() as conn:
        kept = {r.seq: r for r in conn.execute(select(deliveries)).all()}
        invalid = conn.execute(select(invalid_records)).one()
    assert kept[1].record_version_id == kept[2].record_version_id is not None
    assert (kept[3].status, kept[3].invalid_id) == ("rejected", invalid.id)
    assert (invalid.seq, invalid.body["SQRMC"]) == (3, "改")
    assert current(engine) == {"SB|C1": (1, "一")}


def test_a_seq_twice_in_one_call_is_a_duplicate_the_second_time(
    agent: AgentSide, engine: Engine
) -> None:
    source = _writer_source(agent)
    outcomes = store_many(
        engine,
        source,
        [(1, sb("C1")), (2, sb("C2", department="OTHER")), (1, sb("C1")), (2, sb("C9"))],
    )
    assert statuses(outcomes) == [
        ("accepted", []),
        ("rejected", ["wrong_department"]),
        ("duplicate", []),
        # The earlier delivery's problem, and that this content differs from it.
        ("duplicate", ["wrong_department", "seq_reused"]),
    ]
    assert current(engine) == {"SB|C1": (1, "张三")}


def random_items(prefix: str, rng: random.Random, count: int) -> list[tuple[int, Any]]:
    """Records over a few keys with repeated versions, contents and seqs, some invalid."""
    items: list[tuple[int, Any]] = []
    for _ in range(count):
        record: Any = sb(
            f"{prefix}{rng.randint(1, 8)}",
            sjbbh=rng.randint(1, 4),
            SQRMC=rng.choice(["甲", "乙"]),
        )
        roll = rng.random()
        if roll < 0.05:
            record["BMBM"] = "OTHER"
        elif roll < 0.10:
            del record["SXBM"]
        elif roll < 0.12:
            record = ["not", "an", "object"]
        items.append((rng.randint(1, count), record))
    return items


def test_a_batch_leaves_what_storing_one_record_after_the_other_leaves(
    client: Any, engine: Engine
) -> None:
    batched_agent, single_agent = AgentSide(client), AgentSide(client)
    for side in (batched_agent, single_agent):
        assert side.enrol(new_token(engine)).status_code == 200
    rng = random.Random(20261130)
    for round_ in range(4):
        items = random_items("R", rng, 60)
        # The same items under other case numbers, so both runs share one store.
        twin = [(seq, _renamed(record)) for seq, record in items]
        batched = store_many(engine, _writer_source(batched_agent), items)
        single = [store_many(engine, _writer_source(single_agent), [item])[0] for item in twin]
        assert statuses(batched) == statuses(single), f"round {round_}"
    held = _tables(engine, {"R": batched_agent.agent_id, "S": single_agent.agent_id})
    assert held["R"] == held["S"]
    assert held["R"]["current"], "the mix must leave current records to compare"


def _renamed(record: Any) -> Any:
    if isinstance(record, dict):
        return {**record, "SBLSH": "S" + record["SBLSH"][1:]}
    return record


def _tables(engine: Engine, agents: dict[str, str]) -> dict[str, dict[str, Any]]:
    """What each run left, by case-number prefix ("R" or "S"), without ids."""
    with engine.connect() as conn:
        versions = conn.execute(select(record_versions)).all()
        now_current = conn.execute(select(records_current)).all()
        delivered = conn.execute(
            select(deliveries, record_versions.c.business_key).outerjoin(
                record_versions, deliveries.c.record_version_id == record_versions.c.id
            )
        ).all()
    out: dict[str, dict[str, Any]] = {
        p: {"versions": set(), "current": set(), "deliveries": {}} for p in agents
    }
    for r in versions:  # business key "SB|R3": the prefix is the fourth character
        out[r.business_key[3]]["versions"].add((r.business_key[4:], r.sjbbh, r.body["SQRMC"]))
    for r in now_current:
        out[r.business_key[3]]["current"].add((r.business_key[4:], r.sjbbh, r.body["SQRMC"]))
    prefix_of = {agent_id: prefix for prefix, agent_id in agents.items()}
    for r in delivered:
        key = r.business_key[4:] if r.business_key else None
        out[prefix_of[r.agent_id]]["deliveries"][r.seq] = (r.status, key, r.invalid_id is None)
    return out
