"""Nothing of an excluded (secret-level) row reaches the collector, in any byte it keeps.

A legacy database (SQLite through the SQLite ODBC driver, or a GBK MariaDB through MariaDB
Connector/ODBC) holds secret rows changed last, so every table's cursor stands on one of
them when the heartbeats go out; a second source cannot connect, with a password holding
ODBC's '}}' escape. A real agent delivers to a real collector (SQLite and PostgreSQL
stores). Then every column of every table of the collector's store, and every file of its
data directory, is searched for each excluded row's keys, case number and names, and for
the password: none may appear. The same search finds the rows that were sent, so it can
fail.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from installer import legacy_demo_db as legacy

from .processes import BIN, Proc, collector_proc, free_port, run_cli, wait_http, wait_until
from .scenario import DEPARTMENT, MAPPING
from .scenario import agent_config as scenario_config

SECRET = (10, 20, 30, 40, 41)  # 41: not secret-level, but an item the mapping excludes
PASSWORD = "ab}c;dS3cr3t-PW!"
LAST_CHANGE = datetime(2026, 11, 30, 18, 0)  # after every ordinary row's


def secret_id(i: int) -> int:
    return 97770000 + i


def secret_app(app: tuple[Any, ...], i: int) -> tuple[Any, ...]:
    row = dict(zip(legacy.SLXX_COLUMNS, app, strict=True))
    row.update(
        ID=secret_id(i),
        SLBH=f"MIMI-SLBH-{i:04d}",
        LSH=990000 + i,
        SQRMC=f"机要申请人{i:02d}",
        LXR=f"机要联系人{i:02d}",
        SQRZJHM=f"43070219{i:02d}07077777",
        LXDH=f"1397777{i:04d}",
        XGSJ=LAST_CHANGE + timedelta(minutes=i),
    )
    if i == 41:
        row.update(SXBM="430702-GJMM-001", SXMC="国家秘密事项审批", MJ="")
    return tuple(row[c] for c in legacy.SLXX_COLUMNS)


def secret_completion(i: int) -> tuple[Any, ...]:
    done = LAST_CHANGE + timedelta(minutes=i)
    return (secret_id(i), f"MIMI-SLBH-{i:04d}", "00", "准予许可", f"{done:%Y%m%d%H%M%S}",
            f"MIMI-ZJ-{i:04d}", "0", done)  # fmt: skip


def needles() -> dict[str, str]:
    """What must never reach the collector, with why."""
    out = {"S3cr3t-PW": "the second source's password"}
    for i in SECRET:
        out |= {
            str(secret_id(i)): f"row id of secret row {i}",
            f"MIMI-SLBH-{i:04d}": f"legacy case key of secret row {i}",
            f"43070203012026{990000 + i:06d}": f"case number (SBLSH) of secret row {i}",
            f"MIMI-ZJ-{i:04d}": f"licence number of secret row {i}",
            f"机要申请人{i:02d}": f"applicant of secret row {i}",
            f"机要联系人{i:02d}": f"contact of secret row {i}",
        }
    out["国家秘密事项审批"] = "name of the excluded item"
    return out


def fill(conn: Any, kind: str) -> None:
    legacy.create_legacy_schema(conn, kind, charset="gbk" if kind == "mariadb" else None)
    rows = legacy.demo_applications(40)
    apps = [a for a in rows.applications if a[0] not in SECRET]
    extra = legacy.demo_applications(41, first=41).applications
    secret = [secret_app(a, a[0]) for a in rows.applications + extra if a[0] in SECRET]
    legacy.insert_rows(conn, "T_SQ_SLXX", legacy.SLXX_COLUMNS, apps + secret)
    legacy.insert_rows(conn, "T_SP_BJXX", legacy.BJXX_COLUMNS, rows.completions)
    legacy.insert_rows(conn, "T_SP_BJXX", legacy.BJXX_COLUMNS, map(secret_completion, SECRET))


def agent_config(odbc: str, url: str, encoding: str | None) -> str:
    escaped = PASSWORD.replace("}", "}}")
    setting = f'encoding = "{encoding}"' if encoding else ""
    tables = "\n".join(
        f"""
[[sources.tables]]
record_type = "{rtype}"
{what}
{mode}
key_column = "ID"
delay_seconds = 0
reread_seconds = 0
"""
        for rtype, what, mode in (
            ("SB", 'table = "T_SQ_SLXX"', 'mode = "key"'),  # the cursor is a key only
            ("SL", 'table = "T_SQ_SLXX"', 'timestamp_column = "XGSJ"'),
            ("BJ", f'query = "{legacy.BJ_QUERY}"', 'timestamp_column = "XGSJ"'),
        )
    )
    # The department's settings of the other integration tests, with these sources.
    head = scenario_config(Path("unused.db"), url).split("[[sources]]")[0]
    return (
        head
        + f"""
[[sources]]
name = "legacy"
connection = "{odbc}"
{setting}
mapping = "{MAPPING}"
poll_seconds = 1
fetch_size = 7
{tables}
[[sources]]
name = "archive"
connection = "Driver={{SQLite 9}};Database=/nowhere/archive.db;Pwd={{{escaped}}}"
mapping = "{MAPPING}"
poll_seconds = 1

[[sources.tables]]
record_type = "SB"
table = "T_SQ_SLXX"
mode = "key"
key_column = "ID"
"""
    )


def dump_store(url: str) -> list[tuple[str, str]]:
    """(where, text) for every value of every column of every table of the store."""
    engine = create_engine(url)
    out: list[tuple[str, str]] = []
    try:
        with engine.connect() as conn:
            for table in inspect(conn).get_table_names():
                result = conn.execute(text(f'SELECT * FROM "{table}"'))
                columns = list(result.keys())
                for row in result:
                    for column, value in zip(columns, row, strict=True):
                        for form in forms(value):
                            out.append((f"{table}.{column}", form))
    finally:
        engine.dispose()
    assert any(where.startswith("agents.") for where, _ in out)
    return out


def forms(value: Any) -> list[str]:
    """The ways a value may hold text: as is, and JSON with and without escapes."""
    if value is None:
        return []
    if isinstance(value, bytes | memoryview):
        raw = bytes(value)
        return [raw.decode("utf-8", "replace"), raw.decode("latin-1")]
    if isinstance(value, dict | list):
        return [json.dumps(value, ensure_ascii=False), json.dumps(value)]
    return [str(value)]


def data_dir_bytes(root: Path) -> list[tuple[str, bytes]]:
    return [(str(path), path.read_bytes()) for path in sorted(root.rglob("*")) if path.is_file()]


@pytest.mark.parametrize(
    ("legacy_kind", "store_kind"), [("sqlite", "sqlite"), ("mariadb", "postgresql")]
)
def test_no_byte_of_an_excluded_row_reaches_the_collector(
    tmp_path: Path, request: pytest.FixtureRequest, legacy_kind: str, store_kind: str
) -> None:
    if legacy_kind == "sqlite":
        odbc, encoding = legacy.sqlite_odbc(tmp_path / "legacy.db"), None
    else:
        odbc, encoding = request.getfixturevalue("mariadb_database").odbc, "gbk"
    conn = legacy.connect(odbc)
    try:
        fill(conn, legacy_kind)
    finally:
        conn.close()
    store_url = (
        f"sqlite:///{tmp_path / 'collector' / 'collector.db'}"
        if store_kind == "sqlite"
        else str(request.getfixturevalue("pg_database").sqlalchemy_url)
    )

    port = free_port()
    cdir = tmp_path / "collector"
    cdir.mkdir()
    collector = collector_proc(cdir, port, store_url).start()
    dept = tmp_path / "dept"
    dept.mkdir()
    config = dept / "agent.toml"
    config.write_text(agent_config(odbc, f"http://127.0.0.1:{port}", encoding), "utf-8")
    os.chmod(config, 0o600)
    agent = Proc([str(BIN / "esup-agent"), "run", "-c", str(config)], dept / "agent.log")
    engine = create_engine(store_url)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 60, collector.log)
        out = run_cli(
            "esup-collector", "agents", "token", "--data-dir", str(cdir),
            "--department", DEPARTMENT, "--name", "保密测试部门", "--store", store_url,
        ).stdout  # fmt: skip
        token = next(x.split()[1] for x in out.splitlines() if x.startswith("token:"))
        run_cli("esup-agent", "enrol", "-c", str(config), "--token", token)
        agent.start()

        # 36 ordinary applications give an SB and an SL each, their completions a BJ.
        expected = 2 * 36 + len(legacy.demo_applications(40).completions)
        wait_until(
            lambda: delivered_count(store_url) >= expected,
            120,
            "every record delivered",
            agent.log,
        )

        def cursors_on_secret_rows() -> bool:
            status = run_cli("esup-agent", "status", "-c", str(config), "--json").stdout
            cursors = [json.dumps(c["cursor"]) for c in json.loads(status)["cursors"]]
            return len(cursors) == 3 and all(str(secret_id(41)) in c for c in cursors)

        # The adversarial condition: every cursor stands on a secret row (the agent's own
        # status shows it); then a heartbeat goes out.
        wait_until(cursors_on_secret_rows, 60, "the cursors to reach the secret rows", agent.log)
        since = datetime.now(UTC)

        def beat_since() -> bool:
            with engine.connect() as c:
                at = c.execute(text("SELECT last_heartbeat_at FROM agents")).scalar_one()
            if at is None:
                return False
            at = datetime.fromisoformat(at) if isinstance(at, str) else at
            return (at if at.tzinfo else at.replace(tzinfo=UTC)) > since

        wait_until(beat_since, 60, "a heartbeat after the cursors reached the secret rows")
    finally:
        engine.dispose()
        if agent.popen is not None:
            assert agent.terminate() == 0, agent.log.read_text()[-3000:]
        collector.kill()

    status = json.loads(run_cli("esup-agent", "status", "-c", str(config), "--json").stdout)
    assert any(e["where"] == "poll archive" for e in status["last_errors"])
    assert delivered_count(store_url) == expected

    values = dump_store(store_url)
    files = data_dir_bytes(cdir)
    found = []
    for needle, what in needles().items():
        escaped = json.dumps(needle)[1:-1]
        for where, value in values:
            if needle in value or escaped in value:
                found.append(f"{what} ({needle}) in {where}")
        for where, data in files:
            if needle.encode() in data or escaped.encode() in data:
                found.append(f"{what} ({needle}) in file {where}")
    assert not found, "\n".join(found)

    # The search can fail: what was sent is there, and the heartbeat carried the errors.
    assert any("43070203012026000001" in v for _, v in values)
    if store_kind == "sqlite":
        assert any(b"43070203012026000001" in d for _, d in files)
    assert any("poll archive" in v for where, v in values if where == "agents.last_heartbeat")


def delivered_count(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT COUNT(*) FROM records_current")).scalar_one())
    finally:
        engine.dispose()
