"""The bureau's hand on stored data, through the real CLI on SQLite and PostgreSQL: withdrawing
a record (audited, the case judged again, its cards proposed for reassessment), moving a case
between departments, the register of case-number prefixes and the list of refused records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import Engine, select

from collector.cli import main
from collector.clock import SHANGHAI
from collector.engine.sweep import run_sweep
from collector.store.tables import (
    audit_log,
    case_clocks,
    case_owners,
    engine_dirty_cases,
    reassessment_proposals,
    record_versions,
    record_withdrawals,
    records_current,
    verdict_withdrawals,
    verdicts,
)
from tests.collector.conftest import AgentSide, new_token
from tests.collector.engine.records import DEPT as B
from tests.collector.engine.records import bj, checked, sl, sx

A = "11430700MB9999999X"
OVERDUE = "2026-09-24T10:00:00+08:00"  # 5 promised working days: long overdue


def run(store_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--store", store_url])


def _agent(client: Any, engine: Engine, department: str) -> AgentSide:
    side = AgentSide(client)
    assert side.enrol(new_token(engine, department)).status_code == 200
    return side


def _today() -> str:
    """This morning in Beijing: a case accepted now is not late for days."""
    now = datetime.now(UTC).astimezone(SHANGHAI)
    return now.replace(hour=9, minute=0, second=0, microsecond=0).isoformat()


def _cards(engine: Engine, sblsh: str) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [
            (int(i), str(k))
            for i, k in conn.execute(
                select(verdicts.c.id, verdicts.c.kind)
                .where(verdicts.c.sblsh == sblsh, verdicts.c.kind.in_(("yellow", "red")))
                .order_by(verdicts.c.id)
            )
        ]


def _audit(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [(r.action, r.subject) for r in conn.execute(select(audit_log).order_by("id"))]


def test_withdrawing_a_wrong_correction_brings_back_the_version_before_and_proposes_the_card(
    client: Any, engine: Engine, store_url: str
) -> None:
    agent = _agent(client, engine, B)
    agent.verified_receipt(agent.send([(1, sx()), (2, sl("W-1", _today()))]))
    run_sweep(engine, mode="full", workers=1)
    assert _cards(engine, "W-1") == []
    # A wrong correction (SJBBH 2) moves the acceptance months back: a red card follows.
    agent.verified_receipt(agent.send([(3, sl("W-1", OVERDUE, SJBBH=2))]))
    run_sweep(engine, mode="dirty", workers=1)
    cards = _cards(engine, "W-1")
    assert [kind for _, kind in cards] == ["red"]
    red_id = cards[0][0]

    result = run(
        store_url, "records", "withdraw", "W-1", "SL", "--version", "2",
        "--reason", "受理时间录错", "--by", "李监察员",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "已撤回 W-1 的 SL 记录（数据版本 2）" in result.stdout
    assert "现以数据版本 1 为准" in result.stdout

    with engine.connect() as conn:
        current = conn.execute(
            select(records_current.c.sjbbh).where(records_current.c.business_key == "SL|W-1")
        ).scalar_one()
        kept = conn.execute(
            select(record_versions.c.sjbbh).where(record_versions.c.business_key == "SL|W-1")
        ).all()
        withdrawn = conn.execute(select(record_withdrawals.c.reason)).all()
        proposal = conn.execute(
            select(reassessment_proposals).where(reassessment_proposals.c.verdict_id == red_id)
        ).one()
        others = conn.execute(
            select(verdicts.c.kind, reassessment_proposals.c.action).join(
                verdicts, verdicts.c.id == reassessment_proposals.c.verdict_id
            )
        ).all()
        marked = conn.execute(select(engine_dirty_cases.c.sblsh)).scalars().all()
    assert current == 1
    assert sorted(kept) == [(1,), (2,)]  # the withdrawn version stays as evidence
    assert withdrawn == [("受理时间录错",)]
    assert (proposal.verdict_id, proposal.action, proposal.status) == (
        red_id,
        "withdraw",
        "pending",
    )
    assert proposal.cause.startswith("withdrawal:")
    # The late-reporting anomaly came from the withdrawn version too.
    assert sorted(others) == [("anomaly", "withdraw"), ("red", "withdraw")]
    assert marked == ["W-1"]
    assert _cards(engine, "W-1") == [(red_id, "red")]  # proposed, never silently deleted
    assert ("record.withdraw", "record:SL|W-1") in _audit(engine)
    assert run(store_url, "audit", "verify").exit_code == 0

    listed = json.loads(run(store_url, "verdicts", "reassess", "--json").stdout)
    assert (red_id, proposal.cause) in [(p["verdict_id"], p["cause"]) for p in listed]
    accepted = run(store_url, "verdicts", "reassess", "--accept", str(proposal.id), "--by", "李")
    assert accepted.exit_code == 0, accepted.output
    with engine.connect() as conn:
        assert conn.execute(select(verdict_withdrawals.c.verdict_id)).scalars().all() == [red_id]


def test_withdrawing_an_injected_completion_reopens_the_case_and_its_red_card_is_issued(
    client: Any, engine: Engine, store_url: str
) -> None:
    agent = _agent(client, engine, B)
    completed = bj("J-1", "2026-09-25T10:00:00+08:00")
    agent.verified_receipt(agent.send([(1, sx()), (2, sl("J-1", OVERDUE)), (3, completed)]))
    run_sweep(engine, mode="full", workers=1)
    assert _cards(engine, "J-1") == []

    result = run(store_url, "records", "withdraw", "J-1", "BJ", "--reason", "办结为误报")
    assert result.exit_code == 0, result.output
    run_sweep(engine, mode="dirty", workers=1)
    assert [kind for _, kind in _cards(engine, "J-1")] == ["red"]
    with engine.connect() as conn:
        assert conn.execute(select(case_clocks.c.state)).scalar_one() != "completed"


def test_withdrawing_every_record_of_a_case_proposes_every_card_and_drops_its_clock(
    client: Any, engine: Engine, store_url: str
) -> None:
    agent = _agent(client, engine, B)
    agent.verified_receipt(agent.send([(1, sx()), (2, sl("G-1", OVERDUE))]))
    run_sweep(engine, mode="full", workers=1)
    cards = _cards(engine, "G-1")
    assert [kind for _, kind in cards] == ["red"]
    red_id = cards[0][0]

    result = run(store_url, "records", "withdraw", "G-1", "SL", "--reason", "冒名办件", "--json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["case_has_records"] is False and outcome["reassessment_proposals"] == 2
    with engine.connect() as conn:
        assert conn.execute(select(case_clocks)).all() == []
        proposed = conn.execute(select(reassessment_proposals.c.verdict_id)).scalars().all()
    assert red_id in proposed  # and the case's late-reporting anomaly
    # Nothing left to withdraw: a clear error, nothing written.
    again = run(store_url, "records", "withdraw", "G-1", "SL", "--reason", "again")
    assert again.exit_code == 1 and "no record SL|G-1 to withdraw" in again.output


def test_withdraw_asks_for_the_step_of_a_repeating_record(
    client: Any, engine: Engine, store_url: str
) -> None:
    agent = _agent(client, engine, B)
    agent.verified_receipt(agent.send([(1, sx()), (2, sl("S-1", OVERDUE))]))
    result = run(store_url, "records", "withdraw", "S-1", "SPCL", "--reason", "x")
    assert result.exit_code == 1
    assert "needs --key with its SPBZH" in result.output and "须用 --key" in result.output
    assert run(store_url, "records", "withdraw", "S-1", "SL", "--reason", " ").exit_code == 1


def test_a_case_moves_between_departments_only_by_the_bureau(
    client: Any, engine: Engine, store_url: str
) -> None:
    a_agent = _agent(client, engine, A)
    b_agent = _agent(client, engine, B)
    a_record = checked({**sl("M-1", OVERDUE), "BMBM": A})
    a_agent.verified_receipt(a_agent.send([(1, a_record)]))

    moved = run(store_url, "case", "move", "M-1", "--to", B, "--reason", "事项划转", "--by", "李")
    assert moved.exit_code == 0, moved.output
    with engine.connect() as conn:
        owner = conn.execute(select(case_owners.c.department, case_owners.c.basis)).one()
        counted = conn.execute(select(records_current.c.department)).scalars().all()
    assert tuple(owner) == (B, "moved") and counted == [B]
    assert ("case.move", "case:M-1") in _audit(engine)

    late_a = checked({**bj("M-1", "2026-09-25T10:00:00+08:00"), "BMBM": A})
    receipt = a_agent.verified_receipt(a_agent.send([(2, late_a)]))
    assert [r["code"] for r in receipt["rejected"]] == ["foreign_case"]
    b_receipt = b_agent.verified_receipt(b_agent.send([(1, sl("M-1", OVERDUE, SJBBH=2))]))
    assert b_receipt["rejected"] == []

    unknown = run(store_url, "case", "move", "M-1", "--to", "NOBODY", "--reason", "x")
    assert unknown.exit_code == 1 and "部门 NOBODY 未登记" in unknown.output


def test_the_register_of_case_number_prefixes(engine: Engine, store_url: str) -> None:
    added = run(
        store_url, "departments", "add-prefix", B, "4307000301", "--name", "市场监管局",
        "--by", "李",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    overlapping = run(store_url, "departments", "add-prefix", A, "43070003")
    assert overlapping.exit_code == 1
    assert "overlaps other departments' prefixes: 4307000301" in overlapping.output
    assert "前缀 43070003 与其他部门的前缀重叠" in overlapping.output
    malformed = run(store_url, "departments", "add-prefix", A, "43-07")
    assert malformed.exit_code == 1 and "6 位行政区划代码" in malformed.output

    listed = json.loads(run(store_url, "departments", "list", "--json").stdout)
    assert listed == [
        {"code": B, "name": "市场监管局", "case_number_prefixes": ["4307000301"]},
    ]
    removed = run(store_url, "departments", "remove-prefix", B, "4307000301", "--reason", "录错")
    assert removed.exit_code == 0, removed.output
    assert [a for a, _ in _audit(engine)] == ["department.prefix_add", "department.prefix_remove"]
    assert run(store_url, "audit", "verify").exit_code == 0


def test_registering_a_prefix_says_how_many_held_cases_belong_to_others(
    client: Any, engine: Engine, store_url: str
) -> None:
    a_agent = _agent(client, engine, A)
    planted = checked({**sl("43070003012026000001", OVERDUE), "BMBM": A, "SXBM": "A-ITEM"})
    a_agent.verified_receipt(a_agent.send([(1, planted)]))  # before the register: A's
    added = run(store_url, "departments", "add-prefix", B, "4307000301")
    assert added.exit_code == 0, added.output
    assert "1 cases already held with this prefix belong to other departments" in added.output


def test_refused_records_are_listed_for_the_bureau_in_chinese(
    client: Any, engine: Engine, store_url: str
) -> None:
    b_agent = _agent(client, engine, B)
    a_agent = _agent(client, engine, A)
    b_agent.verified_receipt(b_agent.send([(1, sx()), (2, sl("R-1", OVERDUE))]))
    foreign = checked({**bj("R-1", "2026-09-25T10:00:00+08:00"), "BMBM": A})
    wrong = {**sl("R-2", OVERDUE), "BMBM": B}  # A's agent with B's code
    a_agent.verified_receipt(a_agent.send([(1, foreign), (2, wrong)]))

    text = run(store_url, "records", "refused", "--code", "foreign_case")
    assert text.exit_code == 0, text.output
    assert f"{A}  BJ R-1" in text.stdout
    assert "办件 R-1 属于部门" in text.stdout and "foreign_case" not in text.stdout
    as_json = json.loads(run(store_url, "records", "refused", "--json").stdout)
    assert [(r["case_id"], r["problems"][0]["code"]) for r in as_json] == [
        ("R-2", "wrong_department"),
        ("R-1", "foreign_case"),
    ]
    only_b = json.loads(run(store_url, "records", "refused", "--department", B, "--json").stdout)
    assert only_b == []


def test_a_withdrawn_record_can_be_restored_and_counts_again(
    client: Any, engine: Engine, store_url: str
) -> None:
    """Withdrawal is a quarantine: undone, the record is current again and the case is judged
    with it (here the completion is back: the case is completed again)."""
    agent = _agent(client, engine, B)
    completed = bj("Q-1", "2026-09-25T10:00:00+08:00")
    agent.verified_receipt(agent.send([(1, sx()), (2, sl("Q-1", OVERDUE)), (3, completed)]))
    assert run(store_url, "records", "withdraw", "Q-1", "BJ", "--reason", "待核实").exit_code == 0
    run_sweep(engine, mode="dirty", workers=1)
    with engine.connect() as conn:
        assert conn.execute(select(case_clocks.c.state)).scalar_one() != "completed"

    restored = run(store_url, "records", "restore", "Q-1", "BJ", "--reason", "核实为真实办结")
    assert restored.exit_code == 0, restored.output
    assert "已恢复 Q-1 的 BJ 记录（数据版本 1）" in restored.stdout
    run_sweep(engine, mode="dirty", workers=1)
    with engine.connect() as conn:
        assert conn.execute(select(case_clocks.c.state)).scalar_one() == "completed"
        assert conn.execute(select(record_withdrawals)).all() == []
    assert [a for a, _ in _audit(engine) if a.startswith("record.")] == [
        "record.withdraw",
        "record.restore",
    ]
    again = run(store_url, "records", "restore", "Q-1", "BJ", "--reason", "x")
    assert again.exit_code == 1 and "has no withdrawn version" in again.output


def test_a_record_withdrawn_restored_and_withdrawn_again_keeps_its_first_proposals(
    client: Any, engine: Engine, store_url: str
) -> None:
    agent = _agent(client, engine, B)
    agent.verified_receipt(agent.send([(1, sx()), (2, sl("W-2", OVERDUE))]))
    run_sweep(engine, mode="full", workers=1)
    assert [kind for _, kind in _cards(engine, "W-2")] == ["red"]
    for command in ("withdraw", "restore", "withdraw"):
        done = run(store_url, "records", command, "W-2", "SL", "--reason", "核实中")
        assert done.exit_code == 0, done.output
    with engine.connect() as conn:
        proposed = conn.execute(select(reassessment_proposals.c.verdict_id)).scalars().all()
    assert len(proposed) == len(set(proposed)) == 2  # the red card and the late report
