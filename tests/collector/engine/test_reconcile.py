"""RECON records through the real ingest path (signed batches into the in-process app), the
comparison with the store and the counts_disagree verdicts of the sweep, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from collector.cli import main
from collector.engine.sweep import run_sweep
from collector.engine.verdict_view import list_verdicts
from collector.store.tables import recon_reports, records_current, verdicts
from exchange_spec import business_key, validate_record
from exchange_spec.recon import KeyDigest
from tests.collector.conftest import DEPARTMENT, AgentSide, sb

DAY = "2026-11-30"


def recon(
    keys: list[str],
    *,
    count: int | None = None,
    day: str = DAY,
    counted_at: str = "2026-12-01T10:00:00+08:00",
    quarantined: int = 0,
) -> dict[str, Any]:
    """A RECON as the agent sends it: the count and digest of ``keys``."""
    digest = KeyDigest()
    for key in keys:
        digest.add(key)
    record = {
        "spec": "1.0",
        "type": "RECON",
        "BMBM": DEPARTMENT,
        "RECORD_TYPE": "SB",
        "DAY": day,
        "COUNT": digest.count if count is None else count,
        "QUARANTINED": quarantined,
        "DIGEST": digest.hexdigest(),
        "SOURCE_TABLE": "T_SQ_SLXX",
        "COUNTED_AT": counted_at,
    }
    assert validate_record(record) == []
    return record


def cases(first: int, last: int) -> list[dict[str, Any]]:
    return [sb(f"4307000301202600{i:04d}") for i in range(first, last + 1)]


def keys(records: list[dict[str, Any]]) -> list[str]:
    return [business_key(r) for r in records]


class Sender:
    def __init__(self, agent: AgentSide) -> None:
        self.agent = agent
        self.seq = 0

    def send(self, *records: dict[str, Any]) -> dict[str, Any]:
        items = []
        for record in records:
            self.seq += 1
            items.append((self.seq, record))
        receipt = self.agent.verified_receipt(self.agent.send(items))
        assert receipt["rejected"] == [], receipt
        return receipt


def disagreements(engine: Engine) -> list[dict[str, Any]]:
    return [v for v in list_verdicts(engine) if v["code"] == "counts_disagree"]


def test_counts_that_agree_raise_nothing_and_recon_is_not_a_case_record(
    engine: Engine, agent: AgentSide
) -> None:
    sender = Sender(agent)
    records = cases(1, 3)
    sender.send(*records)
    sender.send(recon(keys(records), quarantined=2))  # quarantined rows are not expected here
    # Each pass sends a new count for the same day: no version conflict, nothing stored twice.
    sender.send(recon(keys(records), counted_at="2026-12-01T11:00:00+08:00"))
    run_sweep(engine)
    assert disagreements(engine) == []
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(records_current)).scalar() == 3
        report = conn.execute(select(recon_reports)).one()
    assert (report.agent_count, report.held_count, report.agrees) == (3, 3, True)


def test_missing_records_raise_one_verdict_then_it_is_resolved_when_they_arrive(
    engine: Engine, agent: AgentSide
) -> None:
    sender = Sender(agent)
    records = cases(1, 5)
    sender.send(*records[:2])
    sender.send(recon(keys(records), quarantined=1))
    run_sweep(engine)
    [verdict] = disagreements(engine)
    assert verdict["department"] == DEPARTMENT and verdict["case_id"] == ""
    assert verdict["kind"] == "anomaly" and not verdict["resolved"]
    details = verdict["details"]
    assert (details["record_type"], details["day"], details["difference"]) == ("SB", DAY, 3)
    assert (details["agent_count"], details["held_count"]) == (5, 2)
    assert details["message_zh"] == (
        "对账不符：申办（SB）2026-11-30，部门业务库 5 条，监察中心 2 条，监察中心少 3 条；"
        "另有 1 行在采集端隔离（映射无效，未发送）"
    )

    # The next passes say the same: still one open verdict, not one per RECON.
    sender.send(recon(keys(records), counted_at="2026-12-01T11:00:00+08:00"))
    sender.send(recon(keys(records), counted_at="2026-12-01T12:00:00+08:00"))
    run_sweep(engine)
    run_sweep(engine, mode="dirty")
    assert [v["id"] for v in disagreements(engine)] == [verdict["id"]]

    # The missing records arrive, then a RECON that agrees: the verdict shows resolved, and
    # is itself unchanged.
    sender.send(*records[2:])
    sender.send(recon(keys(records), counted_at="2026-12-01T13:00:00+08:00"))
    run_sweep(engine, mode="dirty")
    [after] = disagreements(engine)
    assert after["resolved"] and "已对平" in after["resolution"]
    assert {k: after[k] for k in verdict if "resol" not in k} == {
        k: verdict[k] for k in verdict if "resol" not in k
    }

    # Disagreeing again later is a new verdict (the resolved one stays as it was).
    sender.send(
        recon([*keys(records), "SB|430700030120269999"], counted_at="2026-12-02T10:00:00+08:00")
    )
    run_sweep(engine)
    first, second = disagreements(engine)
    assert first["resolved"] and not second["resolved"]
    assert second["rule"].endswith("#2") and second["details"]["difference"] == 1


def test_records_and_their_recon_in_one_batch_agree(engine: Engine, agent: AgentSide) -> None:
    records = cases(1, 4)
    Sender(agent).send(*records, recon(keys(records)))
    run_sweep(engine)
    assert disagreements(engine) == []


def test_records_sent_after_the_count_do_not_make_it_disagree(
    engine: Engine, agent: AgentSide
) -> None:
    # Compared when the RECON arrives (after what it counted), not when the sweep runs.
    sender = Sender(agent)
    records = cases(1, 4)
    sender.send(*records[:3])
    sender.send(recon(keys(records[:3])))
    sender.send(records[3])
    run_sweep(engine)
    assert disagreements(engine) == []


def test_same_number_of_different_records_disagrees(engine: Engine, agent: AgentSide) -> None:
    sender = Sender(agent)
    sender.send(*cases(1, 3))
    sender.send(recon(keys(cases(2, 4))))
    run_sweep(engine)
    [verdict] = disagreements(engine)
    assert verdict["details"]["difference"] == 0
    assert "条数相同但记录不同" in verdict["details"]["message_zh"]


def test_an_older_count_arriving_late_does_not_replace_a_newer_one(
    engine: Engine, agent: AgentSide
) -> None:
    sender = Sender(agent)
    records = cases(1, 2)
    sender.send(*records)
    receipt = sender.send(recon(keys(records), counted_at="2026-12-01T12:00:00+08:00"))
    assert receipt["covered"]
    sender.send(recon([], count=0, counted_at="2026-12-01T09:00:00+08:00"))
    run_sweep(engine)
    assert disagreements(engine) == []


def test_the_day_is_the_event_day_in_china_time(engine: Engine, agent: AgentSide) -> None:
    sender = Sender(agent)
    # 17:30 UTC on the 29th is 01:30 on the 30th in China; 15:30 UTC is 23:30 on the 29th.
    late = sb("430700030120260001", SBSJ="2026-11-29T17:30:00Z")
    early = sb("430700030120260002", SBSJ="2026-11-29T15:30:00Z")
    sender.send(late, early)
    sender.send(recon(keys([late])), recon(keys([early]), day="2026-11-29"))
    run_sweep(engine)
    assert [v["details"]["message_en"] for v in disagreements(engine)] == []


def test_another_departments_records_are_not_counted(engine: Engine, agent: AgentSide) -> None:
    from collector.store.ingest import Source, store_record
    from collector.store.timestamps import utc_now

    with engine.begin() as conn:
        store_record(
            conn,
            Source("import:x", "D2"),
            None,
            sb("430700030120260009", department="D2"),
            now=utc_now(),
        )
    sender = Sender(agent)
    sender.send(*cases(1, 2))
    sender.send(recon(keys(cases(1, 2))))
    run_sweep(engine)
    assert disagreements(engine) == []


def test_verdicts_list_shows_the_disagreement_and_its_resolution_in_chinese(
    engine: Engine, agent: AgentSide, store_url: str
) -> None:
    sender = Sender(agent)
    records = cases(1, 3)
    sender.send(records[0])
    sender.send(recon(keys(records)))
    run_sweep(engine)
    shown = CliRunner().invoke(main, ["verdicts", "list", "--store", store_url])
    assert shown.exit_code == 0, shown.output
    assert "counts_disagree" in shown.output
    assert "2026-11-30，部门业务库 3 条，监察中心 1 条，监察中心少 2 条" in shown.output
    sender.send(*records[1:])
    sender.send(recon(keys(records), counted_at="2026-12-01T11:00:00+08:00"))
    run_sweep(engine)
    shown = CliRunner().invoke(main, ["verdicts", "list", "--store", store_url])
    assert "[resolved]" in shown.output and "已对平" in shown.output
    with engine.connect() as conn:  # immutable: one verdict row, resolved beside it
        assert conn.execute(select(func.count()).select_from(verdicts)).scalar() == 1


def test_a_count_for_another_department_is_refused_and_kept_as_invalid(
    engine: Engine, agent: AgentSide
) -> None:
    foreign = recon([]) | {"BMBM": "D2"}
    receipt = agent.verified_receipt(agent.send([(1, foreign)]))
    assert [r["code"] for r in receipt["rejected"]] == ["wrong_department"]
    run_sweep(engine)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(recon_reports)).scalar() == 0
    assert disagreements(engine) == []


def test_a_count_dated_in_the_future_does_not_shut_out_later_counts(
    engine: Engine, agent: AgentSide
) -> None:
    """A COUNTED_AT in year 2099 (an agent's wrong clock) is taken as its arrival time, so
    the next real count of the day still replaces it and resolves the disagreement."""
    sender = Sender(agent)
    records = cases(1, 3)
    sender.send(records[0])
    sender.send(recon(keys(records), counted_at="2099-12-31T10:00:00+08:00"))
    run_sweep(engine)
    [verdict] = disagreements(engine)
    sender.send(*records[1:])
    sender.send(recon(keys(records), counted_at=datetime.now(UTC).isoformat()))
    run_sweep(engine, mode="dirty")
    [after] = disagreements(engine)
    assert after["id"] == verdict["id"] and after["resolved"]
