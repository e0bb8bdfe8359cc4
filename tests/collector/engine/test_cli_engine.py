"""The engine's commands through click's CliRunner on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import Engine

from collector.cli import main
from tests.collector.engine.records import DEPT, at, sl, store, sx

CASE = "430700SCJ20260924001"


def run(store_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--store", store_url])


def test_add_workdays_prints_one_iso_date(engine: Engine, store_url: str) -> None:
    result = CliRunner().invoke(
        main, ["calendar", "add-workdays", "2026-09-24", "5", "--store", store_url]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "2026-10-09\n"


def test_add_workdays_into_a_year_without_data_says_provisional_on_stderr(
    engine: Engine, store_url: str
) -> None:
    result = CliRunner().invoke(
        main, ["calendar", "add-workdays", "2027-01-29", "1", "--store", store_url]
    )
    assert result.exit_code == 0
    assert result.stdout == "2027-02-01\n"
    assert result.stderr == "(provisional)\n"


def test_calendar_check_warns_from_1_december_when_next_year_is_missing(
    engine: Engine, store_url: str
) -> None:
    ok = CliRunner().invoke(
        main, ["calendar", "check", "--today", "2026-11-30", "--store", store_url]
    )
    assert ok.exit_code == 0, ok.output
    late = CliRunner().invoke(
        main, ["calendar", "check", "--today", "2026-12-01", "--store", store_url]
    )
    assert late.exit_code == 1
    assert "2027" in late.stderr and "notice" in late.stderr


def test_calendar_show_lists_holidays_and_adjusted_working_days(
    engine: Engine, store_url: str
) -> None:
    text = CliRunner().invoke(main, ["calendar", "show", "2026", "--store", store_url])
    assert text.exit_code == 0, text.output
    assert "2026-10-10 work (调休上班) 国庆节" in text.stdout
    assert "2026-02-16 rest (放假) 春节" in text.stdout
    as_json = CliRunner().invoke(main, ["calendar", "show", "2026", "--json", "--store", store_url])
    days = {d["date"]: d for d in json.loads(as_json.stdout)["days"]}
    assert days["2026-10-10"]["is_workday"] is True
    assert days["2026-10-01"]["name"] == "国庆节"


def test_calendar_import_creates_a_version_and_recomputes_deadlines(
    engine: Engine, store_url: str, tmp_path: Path
) -> None:
    notice = tmp_path / "2027.toml"
    notice.write_text(
        'year = 2027\nreference = "测试通知 2027"\n\n[[holiday]]\nname = "元旦"\n'
        "from = 2027-01-01\nto = 2027-01-03\nwork = []\n",
        encoding="utf-8",
    )
    first = CliRunner().invoke(
        main, ["calendar", "import", str(notice), "--by", "张三", "--store", store_url]
    )
    assert first.exit_code == 0, first.output
    assert "calendar version 2" in first.stdout
    assert "2027-01-01: none -> rest 元旦" in first.stdout
    again = CliRunner().invoke(main, ["calendar", "import", str(notice), "--store", store_url])
    assert "nothing changed" in again.stdout
    # 2027 is known now: no provisional marker, 1 Jan 2027 is a rest day.
    result = CliRunner().invoke(
        main, ["calendar", "add-workdays", "2026-12-31", "1", "--store", store_url]
    )
    assert result.stdout == "2027-01-04\n" and result.stderr == ""
    verify = CliRunner().invoke(main, ["audit", "verify", "--store", store_url])
    assert verify.exit_code == 0 and "audit chain ok" in verify.stdout


def test_import_then_rules_run_then_case_show(
    engine: Engine, store_url: str, tmp_path: Path
) -> None:
    lines = [sx(), sl(CASE, "2026-09-24T10:00:00+08:00", gdblsx=5)]
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in lines) + "\n", "utf-8")
    imported = CliRunner().invoke(
        main, ["import", str(path), "--department", DEPT, "--store", store_url]
    )
    assert imported.exit_code == 0, imported.output
    swept = CliRunner().invoke(
        main, ["rules", "run", "--at", "2026-10-10T09:00", "--store", store_url]
    )
    assert swept.exit_code == 0, swept.output
    assert "1 cases evaluated" in swept.stdout and "yellow 1" in swept.stdout
    # The yellow card issued from the command line opened its supervision matter too.
    matters = CliRunner().invoke(main, ["supervision", "list", "--json", "--store", store_url])
    assert matters.exit_code == 0, matters.output
    assert [(m["case_id"], m["card"]) for m in json.loads(matters.stdout)] == [(CASE, "yellow")]
    shown = CliRunner().invoke(
        main, ["case", "show", CASE, "--json", "--at", "2026-10-10T09:00", "--store", store_url]
    )
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.stdout)
    assert view["promised_deadline"] == "2026-10-09"
    assert view["legal_deadline"] == "2026-10-29"
    assert view["state"] == "overdue"
    assert view["provisional"] is False
    assert view["calendar_version"] == 1
    assert view["rule_version"].startswith("default-2026.1@")
    kinds = {(v["kind"], v["code"]) for v in view["verdicts"]}
    assert ("yellow", "") in kinds
    # Received now (30 Nov) for an event in September: a late report.
    assert ("anomaly", "late_report") in kinds
    later = CliRunner().invoke(
        main, ["case", "show", CASE, "--json", "--at", "2026-10-15T09:00", "--store", store_url]
    )
    future = {(v["kind"], v.get("stored")) for v in json.loads(later.stdout)["verdicts"]}
    assert ("red", False) in future
    text = CliRunner().invoke(
        main, ["case", "show", CASE, "--at", "2026-10-10T09:00", "--store", store_url]
    )
    assert "promised deadline  2026-10-09" in text.stdout
    assert "SL v1" in text.stdout
    listed = CliRunner().invoke(
        main, ["verdicts", "list", "--case", CASE, "--json", "--store", store_url]
    )
    assert {v["kind"] for v in json.loads(listed.stdout)} >= {"yellow", "anomaly"}


def test_case_show_for_an_unknown_case_says_how_to_fix(engine: Engine, store_url: str) -> None:
    result = CliRunner().invoke(main, ["case", "show", "NOPE", "--store", store_url])
    assert result.exit_code == 1
    assert "no records of case NOPE" in result.output and "没有" in result.output


def test_exemption_add_is_listed_and_audited(engine: Engine, store_url: str) -> None:
    store(engine, [sx(), sl(CASE, "2026-09-24T10:00:00+08:00", gdblsx=5)])
    added = CliRunner().invoke(
        main,
        [
            "exemptions",
            "add",
            "--case",
            CASE,
            "--rule",
            "overdue",
            "--reason",
            "系统故障",
            "--approver",
            "王局长",
            "--expires",
            "2027-12-31",
            "--by",
            "李四",
            "--store",
            store_url,
        ],
    )
    assert added.exit_code == 0, added.output
    listed = CliRunner().invoke(main, ["exemptions", "list", "--json", "--store", store_url])
    assert json.loads(listed.stdout)[0]["approver"] == "王局长"
    shown = CliRunner().invoke(
        main, ["case", "show", CASE, "--json", "--at", "2026-10-15T09:00", "--store", store_url]
    )
    kinds = {v["kind"] for v in json.loads(shown.stdout)["verdicts"]}
    assert not kinds & {"warning", "yellow", "red"}
    assert CliRunner().invoke(main, ["audit", "verify", "--store", store_url]).exit_code == 0


def test_rules_show_names_the_version_and_a_custom_file(
    engine: Engine, store_url: str, tmp_path: Path
) -> None:
    custom = tmp_path / "city.toml"
    custom.write_text(
        'version = "city-2027.1"\nwarning_lead_workdays = 2\n[engine]\nsilence_after_hours = 6\n'
        '[engine.step_limits]\n"1" = 2\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main, ["rules", "show", "--rules", str(custom), "--store", store_url]
    )
    assert result.exit_code == 0, result.output
    assert "version:    city-2027.1@" in result.stdout
    assert "warning_lead_workdays = 2" in result.stdout
    assert "1 = 2 working days" in result.stdout
    _ = at  # keep the helper import used by other tests in this module


def test_reassess_lists_accepts_and_refuses_a_rejection_without_reason(
    engine: Engine, store_url: str, tmp_path: Path
) -> None:
    store(engine, [sx(), sl("R-CLI", "2026-12-28T10:00:00+08:00", gdblsx=5)])
    first = run(store_url, "rules", "run", "--at", "2027-01-05T09:00")
    assert first.exit_code == 0, first.output
    notice = tmp_path / "2027.toml"
    notice.write_text(
        'year = 2027\nreference = "测试"\n\n[[holiday]]\nname = "元旦"\n'
        "from = 2027-01-01\nto = 2027-01-03\nwork = []\n",
        encoding="utf-8",
    )
    assert run(store_url, "calendar", "import", str(notice)).exit_code == 0
    swept = run(store_url, "rules", "run", "--at", "2027-01-05T10:00")
    assert "reassessment proposals: 1" in swept.stdout
    listed = run(store_url, "verdicts", "reassess")
    assert "R-CLI yellow: propose withdraw" in listed.stdout
    assert "2027-01-04 -> 2027-01-05" in listed.stdout
    proposal = json.loads(run(store_url, "verdicts", "reassess", "--json").stdout)[0]
    refused = run(store_url, "verdicts", "reassess", "--reject", str(proposal["id"]))
    assert refused.exit_code == 1
    assert "needs a reason" in refused.output
    accepted = run(
        store_url, "verdicts", "reassess", "--accept", str(proposal["id"]), "--by", "李监察员"
    )
    assert accepted.exit_code == 0, accepted.output
    shown = run(store_url, "verdicts", "list", "--case", "R-CLI")
    assert "yellow [withdrawn]" in shown.stdout
    assert run(store_url, "audit", "verify").exit_code == 0


def test_rules_run_exits_75_when_another_sweep_holds_the_lock(
    engine: Engine, store_url: str
) -> None:
    from collector.engine.lock import sweep_lock

    with sweep_lock(engine) as held:
        assert held
        result = run(store_url, "rules", "run")
    assert result.exit_code == 75
    assert "skipped" in result.stdout


def test_rules_run_takes_a_worker_count_and_refuses_a_negative_one(
    engine: Engine, store_url: str
) -> None:
    from tests.collector.engine.records import store

    store(engine, [sx(), sl(CASE, "2026-09-24T10:00:00+08:00", gdblsx=5)])
    refused = CliRunner().invoke(main, ["rules", "run", "--workers", "-1", "--store", store_url])
    assert refused.exit_code == 2 and "--workers" in refused.output
    swept = CliRunner().invoke(
        main,
        ["rules", "run", "--workers", "1", "--at", "2026-10-10T09:00", "--store", store_url],
    )
    assert swept.exit_code == 0, swept.output
    assert "1 cases evaluated" in swept.stdout and "yellow 1" in swept.stdout
