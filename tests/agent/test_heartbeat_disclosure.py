"""The heartbeat tells the collector how the agent is, and nothing of the legacy rows.

Its cursors used to be the key and time of the last row read, which may be a secret-level
row the mapping then excluded; its error texts quoted what drivers quote (a value they
could not convert) and the connection string with a password the old redaction misread.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from agent.cli import main
from agent.disclosure import public_cursors, public_error
from installer.legacy_demo_db import connect, create_legacy_sqlite

from .agent_setup import write_config, write_mapping
from .fake_collector import FakeCollector, FakeCollectorServer

PASSWORD = "ab}c;dS3cr3t-PW!"
SECRET_SLBH = "MIMI-SLBH-0001"


def test_public_cursors_carry_times_never_keys() -> None:
    cursors = [
        {"source": "s", "table": "SL:T", "cursor": {"ts": "2026-11-30T12:00:00+08:00",
                                                     "key": "MIMI-1"}, "updated_at": "u"},
        {"source": "s", "table": "SB:T", "cursor": {"key": 97770040}, "updated_at": "u"},
        {"source": "s", "table": "SX:T", "cursor": {"snapshot_at": "2026-12-01T08:00:00+08:00"},
         "updated_at": "u"},
    ]  # fmt: skip
    assert public_cursors(cursors) == [
        {"source": "s", "table": "SL:T", "read_up_to": "2026-11-30T12:00:00+08:00",
         "updated_at": "u"},
        {"source": "s", "table": "SB:T", "read_up_to": None, "updated_at": "u"},
        {"source": "s", "table": "SX:T", "read_up_to": "2026-12-01T08:00:00+08:00",
         "updated_at": "u"},
    ]  # fmt: skip


def test_public_errors_lose_quoted_values_numbers_and_connection_details() -> None:
    message = (
        "source 'xzsp': the database reported an error / 数据库返回错误 while reading "
        "T_SQ_SLXX. How to fix: check the table settings. (connection: Driver={X};Pwd=***; "
        'driver said: invalid input syntax for type integer: "MIMI-SLBH-0001")'
    )
    shown = public_error(message)
    assert "MIMI" not in shown and "Driver" not in shown and "Pwd" not in shown
    assert "数据库返回错误 while reading T_SQ_SLXX" in shown and "esup-agent status" in shown
    assert public_error("case 43070203012026990010 of ID 97770010 ‘张密’") == "case … of ID … …"
    assert public_error("HTTP 503, next attempt in 12.5 s") == "HTTP 503, next attempt in 12.5 s"


def source(name: str, connection: str, read: str) -> str:
    return f"""
[[sources]]
name = "{name}"
connection = "{connection}"
mapping = "mapping.toml"

[[sources.tables]]
record_type = "SB"
{read}
mode = "key"
key_column = "ID"
"""


def sources(sqlite: str, pg: str) -> str:
    # SB read by key: the last key read is row 40, a secret-level row. A second source
    # cannot connect, with a password holding '}}'. A third fails converting a value of a
    # row, which PostgreSQL quotes in its error.
    password = PASSWORD.replace("}", "}}")
    return (
        source("xzsp", sqlite, 'table = "T_SQ_SLXX"')
        + source("broken", f"Driver={{SQLite 9}};Database=/nowhere.db;Pwd={{{password}}}",
                 'table = "T_SQ_SLXX"')
        + source("pg", pg, 'query = "SELECT id AS \\"ID\\", CAST(slbh AS INTEGER) AS '
                 '\\"MJ\\" FROM t"')
    )  # fmt: skip


def test_a_heartbeat_holds_no_key_value_or_password_of_the_department(
    tmp_path: Path, pg_database: Any
) -> None:
    sqlite = create_legacy_sqlite(tmp_path / "legacy.db", n=40)
    write_mapping(tmp_path / "mapping.toml")
    conn = connect(pg_database.odbc)
    try:
        conn.execute("CREATE TABLE t (id INT PRIMARY KEY, slbh VARCHAR(20))")
        conn.execute("INSERT INTO t VALUES (1, ?)", SECRET_SLBH)
    finally:
        conn.close()
    fake = FakeCollector()
    with FakeCollectorServer(fake) as server:
        config = str(write_config(tmp_path, server.url, sources=sources(sqlite, pg_database.odbc)))
        assert (
            CliRunner().invoke(main, ["enrol", "-c", config, "--token", "good-token"]).exit_code
            == 0
        )
        result = CliRunner().invoke(main, ["run", "-c", config, "--once"])
    assert result.exit_code == 1  # two sources failed
    # On this machine, the whole truth: the cursor's key is the secret row's, the errors
    # quote the value PostgreSQL could not convert.
    local = json.loads(CliRunner().invoke(main, ["status", "-c", config, "--json"]).output)
    assert {"key": 40} in [c["cursor"] for c in local["cursors"]]
    assert any(SECRET_SLBH in e["message"] for e in local["last_errors"])
    assert not any("S3cr3t" in e["message"] for e in local["last_errors"])

    [beat] = fake.heartbeats
    sent = json.dumps(beat, ensure_ascii=False)
    assert SECRET_SLBH not in sent and "S3cr3t" not in sent and "PW!" not in sent
    assert '"key"' not in sent
    # The key 40 is nowhere among the cursors' values (their times may hold the digits "40").
    for cursor in beat["cursors"]:
        assert set(cursor) == {"source", "table", "read_up_to", "updated_at"}
        assert 40 not in cursor.values() and "40" not in cursor.values()
    assert {e["where"] for e in beat["last_errors"]} == {"poll broken", "poll pg"}
    assert [c["table"] for c in beat["cursors"]] == ["SB:T_SQ_SLXX"]
