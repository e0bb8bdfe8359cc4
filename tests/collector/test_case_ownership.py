"""A case belongs to its department: another department's agent cannot write into it.

Department A's agent, with its own BMBM, sends records for department B's case numbers. Each
variant the issue reproduced (moved case, injected completion, fresh deadline, planted case
number, next case number planted before it exists) goes through the real HTTP ingest on
SQLite and PostgreSQL, and B's case, clock and cards must come out untouched; each of the
three ownership rules (prefix, catalogue, first delivery) is tried on its own.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select

from collector.api.batches import ingest_batch
from collector.engine.sweep import run_sweep
from collector.store.case_prefixes import add_prefix
from collector.store.tables import (
    case_clocks,
    case_owners,
    invalid_records,
    records_current,
    verdicts,
)
from tests.collector.conftest import AgentSide, new_token
from tests.collector.engine.records import DEPT as B
from tests.collector.engine.records import bj, checked, sl, sx

A = "11430700MB9999999X"
A_ITEM = "11430700MB9999999X300011111700001"
B_PREFIX = "4307000301"
B_CASE = f"{B_PREFIX}2026000001"
B_NEXT = f"{B_PREFIX}2026000002"
# Accepted 2026-09-24 with 5 promised working days: long overdue, a red card is due.
SLSJ = "2026-09-24T10:00:00+08:00"


def _of_a(record: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """``record`` as department A's agent sends it: A's own BMBM, valid on its own."""
    return checked({**record, "BMBM": A, "BMMC": "常德市住房和城乡建设局", **extra})


def _agent(client: Any, engine: Engine, department: str) -> AgentSide:
    side = AgentSide(client)
    assert side.enrol(new_token(engine, department)).status_code == 200
    return side


@pytest.fixture
def b_agent(client: Any, engine: Engine) -> AgentSide:
    side = _agent(client, engine, B)
    side.verified_receipt(side.send([(1, sx())]))  # B's catalogue holds B_ITEM
    return side


@pytest.fixture
def a_agent(client: Any, engine: Engine, b_agent: AgentSide) -> AgentSide:
    side = _agent(client, engine, A)
    side.verified_receipt(side.send([(1, _of_a(sx(), SXBM=A_ITEM))]))
    return side


def _register(engine: Engine, department: str, prefix: str) -> None:
    with engine.begin() as conn:
        add_prefix(conn, department, prefix, name="", by="test", now=datetime.now(UTC))


def _refused(receipt: dict[str, Any]) -> dict[int, str]:
    return {r["seq"]: r["code"] for r in receipt["rejected"]}


def _state_of(engine: Engine, sblsh: str) -> dict[str, Any]:
    """Everything of a case the attack must not change: records, owner, clock and cards."""
    with engine.connect() as conn:
        records = conn.execute(
            select(
                records_current.c.business_key,
                records_current.c.department,
                records_current.c.sjbbh,
                records_current.c.body,
            )
            .where(records_current.c.sblsh == sblsh)
            .order_by(records_current.c.business_key)
        ).all()
        clock = conn.execute(
            select(
                case_clocks.c.department,
                case_clocks.c.state,
                case_clocks.c.promised_deadline,
                case_clocks.c.legal_deadline,
            ).where(case_clocks.c.sblsh == sblsh)
        ).all()
        cards = conn.execute(
            select(verdicts.c.department, verdicts.c.kind, verdicts.c.code)
            .where(verdicts.c.sblsh == sblsh)
            .order_by(verdicts.c.id)
        ).all()
        owner = conn.execute(
            select(case_owners.c.department).where(case_owners.c.sblsh == sblsh)
        ).all()
    return {"records": records, "clock": clock, "cards": cards, "owner": owner}


def _evidence(engine: Engine) -> list[tuple[str | None, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(invalid_records.c.department, invalid_records.c.problems).order_by(
                invalid_records.c.id
            )
        ).all()
    return [(d, p["code"]) for d, problems in rows for p in problems]


def _b_case_judged(engine: Engine, b_agent: AgentSide) -> dict[str, Any]:
    b_agent.verified_receipt(b_agent.send([(2, sl(B_CASE, SLSJ))]))
    run_sweep(engine, mode="full", workers=1)
    before = _state_of(engine, B_CASE)
    assert before["owner"] == [(B,)]
    assert before["clock"][0][:2] == (B, "overdue")
    assert {c.kind for c in before["cards"]} >= {"red"}
    return before


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param(lambda: _of_a(sl(B_CASE, SLSJ, SJBBH=2)), id="moved-case"),
        pytest.param(lambda: _of_a(bj(B_CASE, "2026-09-25T10:00:00+08:00")), id="injected-BJ"),
        pytest.param(
            lambda: _of_a(sl(B_CASE, "2026-11-30T10:00:00+08:00", gdblsx=60, SJBBH=9)),
            id="fresh-deadline",
        ),
    ],
)
@pytest.mark.parametrize("rule", ["prefix", "catalogue", "first"])
def test_another_department_cannot_write_into_a_case(
    engine: Engine, b_agent: AgentSide, a_agent: AgentSide, attack: Any, rule: str
) -> None:
    if rule == "prefix":
        _register(engine, B, B_PREFIX)
    before = _b_case_judged(engine, b_agent)
    record = attack()
    if rule != "catalogue":  # A names its own item: only the prefix or the first delivery say
        record = _of_a(record, SXBM=A_ITEM)
    own = _of_a(sl("A-OWN-1", SLSJ, SXBM=A_ITEM))

    receipt = a_agent.verified_receipt(a_agent.send([(2, record), (3, own)]))

    assert _refused(receipt) == {2: "foreign_case"}  # A's own case in the batch is stored
    message = receipt["rejected"][0]
    assert B_CASE in message["message_zh"] and "属于部门" in message["message_zh"]
    run_sweep(engine, mode="full", workers=1)
    assert _state_of(engine, B_CASE) == before
    assert _evidence(engine) == [(A, "foreign_case")]  # kept, with the reason
    assert _state_of(engine, "A-OWN-1")["owner"] == [(A,)]


def test_a_planted_case_number_does_not_block_the_real_record(
    engine: Engine, b_agent: AgentSide, a_agent: AgentSide
) -> None:
    _register(engine, B, B_PREFIX)
    planted = _of_a(sl(B_CASE, SLSJ, SXBM=A_ITEM), BLRXM="冒名")
    assert _refused(a_agent.verified_receipt(a_agent.send([(2, planted)]))) == {2: "foreign_case"}

    # B's real record with SJBBH 1 arrives afterwards: stored, no version_conflict.
    receipt = b_agent.verified_receipt(b_agent.send([(2, sl(B_CASE, SLSJ))]))
    assert receipt["rejected"] == []
    state = _state_of(engine, B_CASE)
    assert state["owner"] == [(B,)]
    assert [(r.department, r.body["BLRXM"]) for r in state["records"]] == [(B, "王芳")]


@pytest.mark.parametrize("rule", ["prefix", "catalogue"])
def test_the_next_case_number_cannot_be_planted_before_it_exists(
    engine: Engine, b_agent: AgentSide, a_agent: AgentSide, rule: str
) -> None:
    """Nobody has delivered B_NEXT yet; the first deliverer would be A, so only the prefix
    (A's own item) or the catalogue (B's item) can tell it is B's."""
    b_agent.verified_receipt(b_agent.send([(2, sl(B_CASE, SLSJ))]))
    if rule == "prefix":
        _register(engine, B, B_PREFIX)
        planted = _of_a(sl(B_NEXT, SLSJ, SXBM=A_ITEM))
    else:
        planted = _of_a(sl(B_NEXT, SLSJ))  # B's item SXBM, B's catalogue
    assert _refused(a_agent.verified_receipt(a_agent.send([(2, planted)]))) == {2: "foreign_case"}
    assert _state_of(engine, B_NEXT)["owner"] == []  # a refused claim decides nothing

    receipt = b_agent.verified_receipt(b_agent.send([(3, sl(B_NEXT, SLSJ))]))
    assert receipt["rejected"] == []
    assert _state_of(engine, B_NEXT)["owner"] == [(B,)]


def test_the_prefix_rule_comes_before_the_catalogue_and_the_first_delivery(
    engine: Engine, b_agent: AgentSide, a_agent: AgentSide
) -> None:
    """A case number with B's prefix is B's even when A delivers it first and names an item of
    A's own catalogue; a number with no registered prefix and A's item is A's."""
    _register(engine, B, B_PREFIX)
    first = _of_a(sl(B_NEXT, SLSJ, SXBM=A_ITEM))
    unprefixed = _of_a(sl("430700ZZ2026000001", SLSJ, SXBM=A_ITEM))
    receipt = a_agent.verified_receipt(a_agent.send([(2, first), (3, unprefixed)]))
    assert _refused(receipt) == {2: "foreign_case"}
    with engine.connect() as conn:
        owners = conn.execute(select(case_owners.c.sblsh, case_owners.c.basis)).all()
    assert sorted(owners) == [("430700ZZ2026000001", "catalogue")]


def test_the_catalogue_rule_gives_the_items_department_and_first_delivery_the_rest(
    engine: Engine, b_agent: AgentSide, a_agent: AgentSide
) -> None:
    # B's item: B's case, whoever delivers first.
    receipt = a_agent.verified_receipt(a_agent.send([(2, _of_a(sl("C-1", SLSJ)))]))
    assert _refused(receipt) == {2: "foreign_case"}
    # An item in nobody's catalogue: the first department to deliver the case has it.
    unknown = "11430700MB0000000Z300011111700009"
    a_agent.verified_receipt(a_agent.send([(3, _of_a(sl("C-2", SLSJ, SXBM=unknown)))]))
    late = sl("C-2", SLSJ, SXBM=unknown, SJBBH=2)
    assert _refused(b_agent.verified_receipt(b_agent.send([(2, late)]))) == {2: "foreign_case"}
    with engine.connect() as conn:
        owners = conn.execute(
            select(case_owners.c.sblsh, case_owners.c.department, case_owners.c.basis)
        ).all()
    assert sorted(owners) == [("C-2", A, "first")]
    assert _evidence(engine) == [(A, "foreign_case"), (B, "foreign_case")]


def test_copying_another_departments_item_into_ones_catalogue_brings_none_of_its_cases(
    engine: Engine, b_agent: AgentSide, a_agent: AgentSide
) -> None:
    """The item's department is the one that delivered it first; an item new to everyone,
    sent in the same batch as the case, is the sender's."""
    copied = _of_a(sx())  # B's item, now in A's catalogue too
    new_item = _of_a(sx(), SXBM="11430700MB9999999X300011111700777")
    receipt = a_agent.verified_receipt(
        a_agent.send(
            [
                (2, copied),
                (3, _of_a(sl("D-1", SLSJ))),
                (4, new_item),
                (5, _of_a(sl("D-2", SLSJ, SXBM="11430700MB9999999X300011111700777"))),
            ]
        )
    )
    assert _refused(receipt) == {3: "foreign_case"}
    assert f"属于部门 {B}（该事项属于该部门的事项目录）" in receipt["rejected"][0]["message_zh"]
    with engine.connect() as conn:
        owners = conn.execute(
            select(case_owners.c.sblsh, case_owners.c.department, case_owners.c.basis)
        ).all()
    assert sorted(owners) == [("D-2", A, "catalogue")]


def test_two_departments_delivering_a_new_case_at_once_give_it_one_owner(
    client: Any, engine: Engine
) -> None:
    """No prefix, no catalogue: the first delivery decides, and a race has one winner."""
    agents = [_agent(client, engine, B), _agent(client, engine, A)]
    ctx = client.app.state.ctx
    cases = [f"RACE-{n}" for n in range(40)]
    unknown = "11430700MB0000000Z300011111700009"
    envelopes = [
        agents[0].batch([(n + 1, sl(c, SLSJ, SXBM=unknown)) for n, c in enumerate(cases)]),
        agents[1].batch(
            [(n + 1, _of_a(sl(c, SLSJ, SXBM=unknown))) for n, c in enumerate(reversed(cases))]
        ),
    ]
    barrier = threading.Barrier(2)
    refused: dict[int, list[str]] = {}

    def deliver(index: int) -> None:
        barrier.wait()
        answer = ingest_batch(ctx, envelopes[index], "127.0.0.1", sender=None)
        refused[index] = [r["code"] for r in answer["receipt"]["rejected"]]

    threads = [threading.Thread(target=deliver, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(refused[0]) + len(refused[1]) == len(cases)  # each case: one stored, one refused
    assert set(refused[0]) | set(refused[1]) <= {"foreign_case"}
    with engine.connect() as conn:
        owners = dict(conn.execute(select(case_owners.c.sblsh, case_owners.c.department)).all())
        counted = dict(
            conn.execute(
                select(records_current.c.sblsh, records_current.c.department).where(
                    records_current.c.record_type == "SL"
                )
            ).all()
        )
    assert set(owners) == set(cases) and counted == owners
