"""One case the engine cannot evaluate must not stop supervision (SQLite and PostgreSQL).

A case stored before the spec bounded dates (an SL with SLSJ 9999-12-31 and a 3,650-day
limit, as an older collector took it, or a future bug) raised OverflowError in the calendar:
every sweep, full and dirty, failed for every department, and ``case show`` printed a
traceback. Now the case gets the ``unevaluable`` anomaly for the bureau and the others get
their cards, in the collector's process and in the sweep's worker processes alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from collector.cli import main
from collector.engine.rules_file import parse_rules
from collector.engine.sweep import run_sweep
from collector.engine.verdict_view import list_verdicts
from collector.store.tables import case_clocks
from exchange_spec import validate_record
from tests.collector.engine.conftest import kinds_of
from tests.collector.engine.records import at, sl, store

AT = at("2026-10-12 10:00")
GOOD = [f"C-{n:03d}" for n in (0, 2, 3, 4, 5, 7)]
BAD = ["C-001", "C-006"]  # one on the first page (this process), one on a worker's page


def bad_sl(sblsh: str) -> dict[str, Any]:
    """The issue's record: spec-valid before dates were bounded, refused by the spec now."""
    valid = sl(sblsh, "2026-09-14T10:00:00+08:00", gdblsx=3650)
    record = {**valid, "SLSJ": "9999-12-31T10:00:00+08:00"}
    assert [p.code for p in validate_record(record)] == ["rule.date_out_of_range"]
    return record


def _store_cases(engine: Engine) -> None:
    # Accepted 09-14 with 3 working days: overdue, yellow uncorrected, so red by 10-12.
    store(engine, [sl(sblsh, "2026-09-14T10:00:00+08:00", gdblsx=3) for sblsh in GOOD])
    store(engine, [bad_sl(sblsh) for sblsh in BAD], received_at=datetime(2026, 9, 15, tzinfo=UTC))


def _sweep(engine: Engine, mode: str) -> Any:
    explicit = sorted(GOOD + BAD) if mode == "cases" else None
    # Pages of two cases: the first page is judged here, the others in two worker processes.
    return run_sweep(engine, mode=mode, at=AT, cases=explicit, page=2, workers=2)


@pytest.mark.parametrize("mode", ["full", "dirty", "cases"])
def test_the_sweep_goes_on_and_the_bad_case_is_unevaluable(store_engine: Engine, mode: str) -> None:
    _store_cases(store_engine)
    result = _sweep(store_engine, mode)
    assert result.ran and result.cases == len(GOOD + BAD)
    assert sorted(result.unevaluable) == BAD
    for sblsh in GOOD:
        assert kinds_of(store_engine, sblsh) == {("red", "")}, sblsh
    for sblsh in BAD:
        assert kinds_of(store_engine, sblsh) == {("anomaly", "unevaluable")}
    assert "C-001" in result.summary() and "无法评估" in result.summary()

    verdicts = {v["case_id"]: v for v in list_verdicts(store_engine) if v["code"] == "unevaluable"}
    details = verdicts["C-006"]["details"]
    assert "C-006" in details["reason_zh"] and "SLSJ" in details["reason_zh"]
    assert "9999-12-31" in details["reason_zh"] and "SJBBH" in details["reason_zh"]
    assert details["error"].startswith("OverflowError")
    with store_engine.connect() as conn:
        states = dict(conn.execute(select(case_clocks.c.sblsh, case_clocks.c.state)).all())
    assert {s: states[s] for s in BAD} == dict.fromkeys(BAD, "unevaluable")
    assert {states[s] for s in GOOD} == {"overdue"}

    again = _sweep(store_engine, mode)  # issued once; the sweep still does not stop
    assert again.ran and sum(again.new.values()) == 0


def test_a_rules_change_reassesses_around_the_bad_case(store_engine: Engine) -> None:
    _store_cases(store_engine)
    run_sweep(store_engine, at=AT, workers=1)
    changed = parse_rules('version = "stricter"\n[engine]\nsilence_after_hours = 48\n', "x.toml")
    result = run_sweep(store_engine, at=AT, rules=changed, workers=1)
    assert result.ran and sorted(result.unevaluable) == BAD


def test_case_show_says_why_without_a_traceback(store_engine: Engine, store_url: str) -> None:
    _store_cases(store_engine)
    run_sweep(store_engine, at=AT, workers=1)
    shown = CliRunner().invoke(
        main, ["case", "show", "C-001", "--at", "2026-10-12T10:00", "--store", store_url]
    )
    assert shown.exit_code == 0, shown.output
    assert "Traceback" not in shown.output and "OverflowError" not in shown.stdout
    assert "无法评估" in shown.stdout and "cannot be evaluated" in shown.stdout
    assert "9999-12-31" in shown.stdout and "SLSJ" in shown.stdout
    assert "anomaly unevaluable" in shown.stdout

    as_json = CliRunner().invoke(
        main, ["case", "show", "C-001", "--json", "--at", "2026-10-12", "--store", store_url]
    )
    assert as_json.exit_code == 0, as_json.output
    view = json.loads(as_json.stdout)
    assert view["state"] == "unevaluable"
    assert view["unevaluable"]["error"].startswith("OverflowError")
    assert view["unevaluable"]["where"]
    assert [v["code"] for v in view["verdicts"]] == ["unevaluable"]

    listed = CliRunner().invoke(main, ["verdicts", "list", "--case", "C-001", "--store", store_url])
    assert listed.exit_code == 0, listed.output
    assert "anomaly unevaluable" in listed.stdout and "无法计算时限" in listed.stdout


def test_case_show_of_an_unevaluable_case_no_sweep_has_seen(
    store_engine: Engine, store_url: str
) -> None:
    _store_cases(store_engine)
    shown = CliRunner().invoke(main, ["case", "show", "C-006", "--store", store_url])
    assert shown.exit_code == 0, shown.output
    assert "无法评估" in shown.stdout and "due, not stored yet" in shown.stdout


def test_rules_run_prints_the_unevaluable_cases(store_engine: Engine, store_url: str) -> None:
    _store_cases(store_engine)
    ran = CliRunner().invoke(
        main, ["rules", "run", "--at", "2026-10-12T10:00", "--workers", "1", "--store", store_url]
    )
    assert ran.exit_code == 0, ran.output
    assert "Traceback" not in ran.output
    assert "2 cases could not be evaluated" in ran.stdout and "C-006" in ran.stdout


def test_case_show_words_a_bug_outside_the_clock_too(
    store_engine: Engine, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import collector.engine.case_view as case_view_module

    def broken(*_args: Any) -> Any:
        raise KeyError("type")

    _store_cases(store_engine)
    monkeypatch.setattr(case_view_module, "_event", broken)
    shown = CliRunner().invoke(main, ["case", "show", "C-000", "--store", store_url])
    assert shown.exit_code == 1
    assert isinstance(shown.exception, SystemExit)  # a message, not an uncaught error
    assert "C-000" in shown.output and "无法显示" in shown.output and "KeyError" in shown.output
