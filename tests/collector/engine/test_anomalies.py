"""Every anomaly code through the sweep, on SQLite and PostgreSQL, with 2026 dates."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from collector.engine.rules_file import parse_rules
from collector.engine.sweep import run_sweep
from collector.store.tables import invalid_records
from tests.collector.engine.conftest import kinds_of
from tests.collector.engine.records import (
    DEPT,
    at,
    bj,
    bzgz,
    sl,
    spcl,
    store,
    tbcxjg,
    tbcxsq,
)

SLSJ = "2026-09-24T10:00:00+08:00"


def anomalies(engine: Engine, sblsh: str) -> set[str]:
    return {code for kind, code in kinds_of(engine, sblsh) if kind == "anomaly"}


def test_second_correction_notice(store_engine: Engine) -> None:
    case = "A-BZGZ"
    store(
        store_engine,
        [
            sl(case, SLSJ),
            bzgz(case, 1, "2026-09-28T10:00:00+08:00"),
            bzgz(case, 2, "2026-09-29T10:00:00+08:00"),
        ],
    )
    run_sweep(store_engine, at=at("2026-09-30 10:00"))
    assert "second_correction_notice" in anomalies(store_engine, case)


def test_extension_over_cap(store_engine: Engine) -> None:
    case = "A-EXT"
    store(store_engine, [sl(case, SLSJ), tbcxsq(case, 1, "A", "2026-09-28T09:00:00+08:00", 12)])
    run_sweep(store_engine, at=at("2026-09-30 10:00"))
    assert "extension_over_cap" in anomalies(store_engine, case)


def test_a_granted_extension_within_the_cap_is_no_anomaly(store_engine: Engine) -> None:
    case = "A-EXT-OK"
    store(store_engine, [sl(case, SLSJ), tbcxsq(case, 1, "A", "2026-09-28T09:00:00+08:00", 3)])
    run_sweep(store_engine, at=at("2026-09-30 10:00"))
    assert anomalies(store_engine, case) == set()


def test_fee_above_the_fee_fixed_at_acceptance(store_engine: Engine) -> None:
    case = "A-FEE"
    store(
        store_engine,
        [sl(case, SLSJ, GDSF=50), bj(case, "2026-09-29T10:00:00+08:00", SFJE=80)],
    )
    run_sweep(store_engine, at=at("2026-09-30 10:00"), mode="cases", cases=[case])
    assert "fee_above_permitted" in anomalies(store_engine, case)


def test_fee_on_a_free_item(store_engine: Engine) -> None:
    # The catalogue item says SFSM 0 (free) and the acceptance fixed no fee.
    case = "A-FEE-FREE"
    store(store_engine, [sl(case, SLSJ), bj(case, "2026-09-29T10:00:00+08:00", SFJE=10)])
    run_sweep(store_engine, at=at("2026-09-30 10:00"), mode="cases", cases=[case])
    assert "fee_above_permitted" in anomalies(store_engine, case)


def test_abnormal_completion_codes(store_engine: Engine) -> None:
    store(store_engine, [sl("A-BJ3", SLSJ), bj("A-BJ3", "2026-09-29T10:00:00+08:00", "3")])
    store(store_engine, [sl("A-BJ0", SLSJ), bj("A-BJ0", "2026-09-29T10:00:00+08:00", "0")])
    run_sweep(store_engine, at=at("2026-09-30 10:00"), mode="cases", cases=["A-BJ3", "A-BJ0"])
    assert anomalies(store_engine, "A-BJ3") == {"abnormal_completion"}
    assert anomalies(store_engine, "A-BJ0") == set()


def test_special_procedure_after_completion(store_engine: Engine) -> None:
    case = "A-AFTER"
    store(
        store_engine,
        [
            sl(case, SLSJ),
            bj(case, "2026-09-29T10:00:00+08:00"),
            tbcxsq(case, 1, "B", "2026-09-30T09:00:00+08:00", 2),
            tbcxjg(case, 1, "2026-10-08T09:00:00+08:00"),
        ],
    )
    run_sweep(store_engine, at=at("2026-10-09 10:00"), mode="cases", cases=[case])
    assert "special_procedure_after_completion" in anomalies(store_engine, case)


def test_special_procedure_backdated(store_engine: Engine) -> None:
    case = "A-BACK"
    store(store_engine, [sl(case, SLSJ)])
    # Reported on 12 Oct for a procedure said to start on 28 Sep: 14 days back.
    store(
        store_engine,
        [tbcxsq(case, 1, "B", "2026-09-28T09:00:00+08:00", 5)],
        received_at=at("2026-10-12 09:00"),
    )
    run_sweep(store_engine, at=at("2026-10-12 10:00"))
    assert "special_procedure_backdated" in anomalies(store_engine, case)


def test_special_procedure_covering_the_whole_case(store_engine: Engine) -> None:
    case = "A-COVER"
    store(
        store_engine,
        [
            sl(case, SLSJ),
            tbcxsq(case, 1, "B", "2026-09-24T10:30:00+08:00", 20),
            tbcxjg(case, 1, "2026-10-20T09:00:00+08:00"),
            bj(case, "2026-10-20T10:00:00+08:00"),
        ],
    )
    run_sweep(store_engine, at=at("2026-10-21 10:00"), mode="cases", cases=[case])
    assert "special_procedure_covers_case" in anomalies(store_engine, case)


def test_late_report_counts_working_days_across_national_day(store_engine: Engine) -> None:
    # Event Wed 30 Sep, received Thu 8 Oct: only one working day (8 Oct) in between, on time.
    on_time = "A-LATE-OK"
    store(
        store_engine, [sl(on_time, "2026-09-30T10:00:00+08:00")], received_at=at("2026-10-08 09:00")
    )
    # Event Wed 30 Sep, received Fri 9 Oct: two working days, late.
    late = "A-LATE"
    store(store_engine, [sl(late, "2026-09-30T10:00:00+08:00")], received_at=at("2026-10-09 09:00"))
    run_sweep(store_engine, at=at("2026-10-09 10:00"))
    assert "late_report" not in anomalies(store_engine, on_time)
    assert "late_report" in anomalies(store_engine, late)


def test_orphan_completion_without_acceptance(store_engine: Engine) -> None:
    case = "A-ORPHAN"
    store(store_engine, [bj(case, "2026-09-29T10:00:00+08:00")])
    run_sweep(store_engine, at=at("2026-09-30 10:00"))
    assert anomalies(store_engine, case) == {"orphan_record"}


def test_refusal_without_reason_rejected_at_the_door(store_engine: Engine) -> None:
    body = {**sl("A-REFUSE", SLSJ), "SLZTDM": "2"}
    with store_engine.begin() as conn:
        conn.execute(
            invalid_records.insert().values(
                agent_id=None,
                source="import:test.jsonl",
                seq=1,
                department=DEPT,
                body=body,
                problems=[{"code": "rule.refusal_needs_reason", "path": "BSLYY"}],
                received_at=at("2026-09-24 11:00"),
            )
        )
    run_sweep(store_engine, at=at("2026-09-30 10:00"))
    run_sweep(store_engine, at=at("2026-09-30 11:00"))
    assert kinds_of(store_engine, "A-REFUSE") == {("anomaly", "refusal_without_reason")}


def test_refusal_without_reason_pure_rule() -> None:
    from collector.engine.verdicts import CaseInput, CaseRecord
    from collector.engine.verdicts.anomalies import refusal_without_reason

    body = {**sl("A-REFUSE-2", SLSJ), "SLZTDM": "4", "BSLYY": "无"}
    case = CaseInput("A-REFUSE-2", DEPT, (CaseRecord(body, at("2026-09-24 11:00")),))
    assert [c.code for c in refusal_without_reason(case)] == ["refusal_without_reason"]
    with_reason = {**body, "BSLYY": "申请人不具备主体资格"}
    case = CaseInput("A-REFUSE-2", DEPT, (CaseRecord(with_reason, at("2026-09-24 11:00")),))
    assert refusal_without_reason(case) == []


def test_step_over_its_configured_limit_is_yellow(store_engine: Engine) -> None:
    case = "A-STEP"
    base = parse_rules('version = "steps-1"\n[engine.step_limits]\n"1" = 2\n', "steps.toml")
    # Step 1 (承办) done 30 Sep: 3 working days after acceptance on 24 Sep (28, 29, 30).
    store(
        store_engine, [sl(case, SLSJ, gdblsx=20), spcl(case, 1, "1", "2026-09-30T16:00:00+08:00")]
    )
    run_sweep(store_engine, at=at("2026-09-30 17:00"), rules=base)
    assert ("yellow", "") in kinds_of(store_engine, case)
    ok = "A-STEP-OK"
    store(store_engine, [sl(ok, SLSJ, gdblsx=20), spcl(ok, 1, "1", "2026-09-29T16:00:00+08:00")])
    run_sweep(store_engine, at=at("2026-09-30 17:00"), rules=base, mode="cases", cases=[ok])
    assert ("yellow", "") not in kinds_of(store_engine, ok)
    _ = timedelta
