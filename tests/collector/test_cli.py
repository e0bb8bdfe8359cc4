"""esup-collector commands through CliRunner, against SQLite and PostgreSQL stores."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from collector.cli import main
from collector.settings import CollectorSettings
from collector.store.tables import invalid_records, record_versions, records_current

from .conftest import AgentSide, sb


def store_args(settings: CollectorSettings) -> list[str]:
    return ["--store", settings.resolved_store_url, "--data-dir", str(settings.data_dir)]


def run(settings: CollectorSettings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, *store_args(settings)])
    return result.exit_code, result.output


def test_db_upgrade_then_token_enrols_an_agent(
    settings: CollectorSettings, client: TestClient
) -> None:
    code, out = run(settings, "db", "upgrade")
    assert code == 0, out
    code, out = run(settings, "agents", "token", "--department", "D9", "--name", "市场监管局")
    assert code == 0, out
    fields = dict(line.split(":", 1) for line in out.splitlines())
    side = AgentSide(client)
    response = side.enrol(fields["token"].strip())
    assert response.status_code == 200, response.text
    assert response.json()["collector_key_id"] == fields["collector key fingerprint"].strip()
    assert response.json()["department"] == "D9"


def test_agents_list_shows_heartbeat_lag_highest_seq_and_gaps(
    settings: CollectorSettings, agent: AgentSide
) -> None:
    agent.verified_receipt(agent.send([(1, sb("C1")), (4, sb("C4"))]))
    assert agent.heartbeat({"oldest_pending_seconds": 90.5, "outbox_pending": 3}).status_code == 200
    code, out = run(settings, "agents", "list", "--json")
    assert code == 0, out
    [row] = json.loads(out)
    assert row["agent_id"] == agent.agent_id and row["department"] == "D1"
    assert row["status"] == "active" and row["highest_seq"] == 4
    assert row["gaps"] == [[2, 3]]
    assert row["oldest_pending_seconds"] == 90.5 and row["outbox_pending"] == 3
    assert row["heartbeat_age_seconds"] is not None
    code, out = run(settings, "agents", "list")
    assert code == 0 and agent.agent_id in out and "2-3" in out and "90s" in out


def test_agents_revoke_refuses_the_agent_afterwards(
    settings: CollectorSettings, agent: AgentSide
) -> None:
    code, out = run(settings, "agents", "revoke", agent.agent_id, "--reason", "replaced")
    assert code == 0, out
    assert agent.send([(1, sb("C1"))]).json()["error"] == "agent_revoked"
    code, out = run(settings, "agents", "revoke", "ag-nope", "--reason", "x")
    assert code == 1 and "ag-nope" in out


def test_import_goes_through_validation_and_reports_every_line(
    settings: CollectorSettings, engine: Engine, tmp_path: Path
) -> None:
    broken = sb("C3")
    del broken["SBLSH"]
    lines = [
        json.dumps(sb("C1", sjbbh=2), ensure_ascii=False),
        json.dumps(sb("C2"), ensure_ascii=False),
        "",
        json.dumps(broken, ensure_ascii=False),
        json.dumps(sb("C4", department="OTHER"), ensure_ascii=False),
        "{not json",
        json.dumps(sb("C1", sjbbh=1), ensure_ascii=False),  # older: kept, not current
        json.dumps(sb("C2"), ensure_ascii=False),  # the same again: duplicate
        json.dumps(sb("C9", SJBBH=float("nan"))),  # parses, but has no canonical form
    ]
    path = tmp_path / "backlog.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out = run(settings, "import", str(path), "--department", "D1")
    assert code == 1, out
    assert "accepted:    2" in out
    assert "duplicates:  1" in out
    assert "superseded:  1" in out
    assert "invalid:     4" in out
    assert "line 4:" in out and "line 5: BMBM" in out and "line 6:" in out and "line 9:" in out
    with engine.connect() as conn:
        current = dict(
            conn.execute(select(records_current.c.business_key, records_current.c.sjbbh)).all()
        )
        sources = set(conn.execute(select(record_versions.c.source)).scalars())
        invalid = conn.execute(select(invalid_records.c.seq, invalid_records.c.source)).all()
    assert current == {"SB|C1": 2, "SB|C2": 1}
    assert sources == {"import:backlog.jsonl"}
    assert sorted(invalid) == [(n, "import:backlog.jsonl") for n in (4, 5, 9)]


def test_import_of_a_clean_file_exits_zero(
    settings: CollectorSettings, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "ok.jsonl"
    path.write_text("".join(json.dumps(sb(f"K{i}")) + "\n" for i in range(1, 1203)))
    code, out = run(settings, "import", str(path), "--department", "D1")
    assert code == 0, out
    assert "accepted:    1202" in out


def test_commands_refuse_a_store_that_is_not_migrated(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["agents", "list", "--data-dir", str(tmp_path / "new")])
    assert result.exit_code == 1
    assert "esup-collector db upgrade" in result.output
