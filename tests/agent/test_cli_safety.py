"""The CLI fails closed: exclusion rules that cannot see their column, secrets other users
can read, and a `run --once` whose poll failed all stop with a clear message and exit 1.

A real legacy SQLite database read through the SQLite3 ODBC driver, and a fake collector
on a real 127.0.0.1 socket.
"""

from __future__ import annotations

import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import agent.mapping
from agent.cli import main
from agent.signing import HMAC_KEY_FILE, PRIVATE_KEY_FILE
from installer.legacy_demo_db import BJ_QUERY, create_legacy_sqlite

from .agent_setup import write_config
from .fake_collector import FakeCollector, FakeCollectorServer

DEMO_MAPPING = Path(agent.mapping.__file__).parent / "examples" / "legacy_demo.toml"
# The completion steps without the application's secret level: the file-wide MJ rule
# of the demo mapping cannot see whether a completion belongs to a secret item.
BJ_WITHOUT_MJ = BJ_QUERY.replace(", s.MJ FROM", " FROM")


def sources(odbc: str, bj_query: str = BJ_QUERY, *, sl_table: str = "T_SQ_SLXX") -> str:
    return f"""
[[sources]]
name = "xzsp"
connection = "{odbc}"
mapping = "mapping.toml"
fetch_size = 50

[[sources.tables]]
record_type = "SL"
table = "{sl_table}"
timestamp_column = "XGSJ"
key_column = "ID"
delay_seconds = 0

[[sources.tables]]
record_type = "BJ"
query = "{bj_query}"
timestamp_column = "XGSJ"
key_column = "ID"
delay_seconds = 0
"""


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, str, FakeCollector]]:
    """A department (demo legacy database and mapping), and a fake collector; yields the
    directory, the ODBC connection string and the collector (its URL in ``fake.url``)."""
    odbc = create_legacy_sqlite(tmp_path / "legacy.db", n=40)
    shutil.copy(DEMO_MAPPING, tmp_path / "mapping.toml")
    fake = FakeCollector()
    with FakeCollectorServer(fake) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield tmp_path, odbc, fake


def configure(site: tuple[Path, str, FakeCollector], **kw: str) -> str:
    tmp_path, odbc, fake = site
    return str(write_config(tmp_path, fake.url, sources=sources(odbc, **kw)))  # type: ignore[attr-defined]


def test_an_exclusion_rule_a_query_cannot_see_fails_check_and_start(
    site: tuple[Path, str, FakeCollector],
) -> None:
    config = configure(site, bj_query=BJ_WITHOUT_MJ)
    result = invoke("check", "-c", config)
    assert result.exit_code == 1, result.output
    assert "检查通过" not in result.output
    gap = (
        "the exclusion rule mapping.toml.exclude[0] tests column 'MJ', which source 'xzsp', "
        "table (query) (read for BJ records) does not have"
    )
    assert gap in result.output.replace(str(site[0]) + "/", "")
    assert "add MJ to the table's query" in result.output
    assert "T_SQ_SLXX (read for SL" not in result.output  # that table has MJ

    assert invoke("enrol", "-c", config, "--token", "good-token").exit_code == 0
    result = invoke("run", "-c", config, "--once")
    assert result.exit_code == 1
    assert "ConfigError" in result.output and "tests column 'MJ'" in result.output
    assert not site[2].records  # refused before anything was read or sent


def test_rows_read_without_the_exclusion_column_are_quarantined_never_sent(
    site: tuple[Path, str, FakeCollector],
) -> None:
    # Past the start check (the query is changed while the agent runs, say): the rows the
    # rule cannot judge stay on this machine.
    from agent.config import load_config
    from agent.runner import Agent

    config = configure(site)
    assert invoke("enrol", "-c", config, "--token", "good-token").exit_code == 0
    text = Path(config).read_text("utf-8").replace(BJ_QUERY, BJ_WITHOUT_MJ)
    Path(config).write_text(text, "utf-8")
    agent_ = Agent.build(load_config(Path(config)), transport=site[2].transport())
    try:
        result = agent_.run_once()
    finally:
        agent_.close()
    [sl, bj] = result["polls"]
    assert bj.rows > 0 and bj.quarantined == bj.rows and bj.added == 0
    assert sl.added > 0
    assert {r["type"] for r in site[2].records.values()} == {"SL"}
    listed = invoke("quarantine", "list", "-c", config).output
    assert "mapping.exclusion_column_missing" in listed
    # The way out the docs give: fix the query, read the period again.
    Path(config).write_text(text.replace(BJ_WITHOUT_MJ, BJ_QUERY), "utf-8")
    result = invoke("backfill", "-c", config, "--from", "2026-09-01", "--to", "2026-12-31")
    assert result.exit_code == 0, result.output
    assert "no quarantined rows" in invoke("quarantine", "list", "-c", config).output
    assert invoke("run", "-c", config, "--once").exit_code == 0
    sent = [r for r in site[2].records.values() if r["type"] == "BJ"]
    assert len(sent) == bj.rows  # (the demo completes no secret-level case)


def test_run_once_exits_1_when_a_poll_failed(site: tuple[Path, str, FakeCollector]) -> None:
    config = configure(site, sl_table="T_SQ_SLXX_OLD")  # a table that is not there
    assert invoke("enrol", "-c", config, "--token", "good-token").exit_code == 0
    result = invoke("run", "-c", config, "--once")
    assert result.exit_code == 1, result.output
    assert "poll of source xzsp failed" in result.output
    assert "table was not found" in result.output and "本次运行未成功" in result.output


def test_run_once_exits_0_when_poll_and_push_succeed(
    site: tuple[Path, str, FakeCollector],
) -> None:
    config = configure(site)
    assert invoke("enrol", "-c", config, "--token", "good-token").exit_code == 0
    result = invoke("run", "-c", config, "--once")
    assert result.exit_code == 0, result.output
    assert len(site[2].records) > 0


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_writes_the_config_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "agent.toml"
    assert invoke("init", str(path)).exit_code == 0
    assert mode(path) == 0o600


def test_enrol_creates_the_state_dir_and_keys_for_the_owner_only(
    site: tuple[Path, str, FakeCollector],
) -> None:
    config = configure(site)
    assert invoke("enrol", "-c", config, "--token", "good-token").exit_code == 0
    state = site[0] / "state"
    assert mode(state) == 0o700
    assert mode(state / PRIVATE_KEY_FILE) == 0o600


@pytest.mark.parametrize("name", [PRIVATE_KEY_FILE, HMAC_KEY_FILE])
def test_run_refuses_a_key_other_users_can_read(
    site: tuple[Path, str, FakeCollector], name: str
) -> None:
    config = configure(site)
    assert invoke("enrol", "-c", config, "--token", "good-token").exit_code == 0
    assert invoke("run", "-c", config, "--once").exit_code == 0  # creates the HMAC key
    key = site[0] / "state" / name
    key.chmod(0o644)
    result = invoke("run", "-c", config, "--once")
    assert result.exit_code == 1
    assert f"{key} is readable by other users (mode 0o644)" in result.output
    assert f"chmod 600 {key}" in result.output
    key.chmod(0o600)
    assert invoke("run", "-c", config, "--once").exit_code == 0


def test_check_fails_on_a_config_with_a_password_others_can_read(
    site: tuple[Path, str, FakeCollector],
) -> None:
    odbc = site[1]
    config = Path(configure(site))
    config.write_text(config.read_text("utf-8").replace(odbc, odbc + ";Pwd={s3}}cret}"), "utf-8")
    config.chmod(0o644)
    result = invoke("check", "-c", str(config), "--offline")
    assert result.exit_code == 1
    assert "holds a database password and is readable by other users" in result.output
    assert f"chmod 600 {config}" in result.output
    config.chmod(0o600)
    assert invoke("check", "-c", str(config), "--offline").exit_code == 0


def test_check_fails_on_a_state_dir_others_can_enter(
    site: tuple[Path, str, FakeCollector],
) -> None:
    # It holds the outbox and the quarantine: legacy rows as read, ID numbers unmasked.
    config = configure(site)
    state = site[0] / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    result = invoke("check", "-c", config, "--offline")
    assert result.exit_code == 1
    assert f"chmod 700 {state}" in result.output
    state.chmod(0o700)
    assert invoke("check", "-c", config, "--offline").exit_code == 0
