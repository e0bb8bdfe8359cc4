"""The esup-agent command line, end to end: a real legacy SQLite database read through
the SQLite3 ODBC driver, a fake collector on a real 127.0.0.1 socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from agent.cli import main
from agent.signing import ENROLMENT_FILE, PRIVATE_KEY_FILE
from agent.state import OUTBOX_FILE
from installer.legacy_demo_db import create_legacy_sqlite

from .agent_setup import sqlite_source, write_config, write_mapping
from .fake_collector import FakeCollector, FakeCollectorServer

EXCLUDED, QUARANTINED, VALID = 5, 15, 30


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix}{name} ")


def test_every_command_has_help_with_examples() -> None:
    found = dict(commands(main))
    expected = {"init", "check", "enrol", "rotate-key", "run", "status", "backfill", "quarantine",
                "quarantine list", "quarantine replay"}  # fmt: skip
    assert expected <= set(found)
    for name, _ in found.items():
        result = invoke(*name.split(), "--help")
        assert result.exit_code == 0 and "Examples:" in result.output, name


def test_init_writes_a_config_that_check_parses_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "agent.toml"
    assert invoke("init", str(path)).exit_code == 0
    result = invoke("check", "-c", str(path), "--offline")
    assert result.exit_code == 0, result.output
    assert "config" in result.output and "1 source(s)" in result.output
    path.write_text("# mine", "utf-8")
    result = CliRunner().invoke(main, ["init", str(path)])
    assert result.exit_code == 1 and "already exists" in result.output
    assert path.read_text("utf-8") == "# mine"


def test_config_errors_are_reported_with_the_key_and_exit_1(tmp_path: Path) -> None:
    path = write_config(tmp_path, outbox="batch_max_record = 5")
    result = CliRunner().invoke(main, ["check", "-c", str(path), "--offline"])
    assert result.exit_code == 1
    assert "outbox.batch_max_record" in result.output and "batch_max_records" in result.output
    result = CliRunner().invoke(main, ["status", "-c", str(tmp_path / "missing.toml")])
    assert result.exit_code == 1 and "esup-agent init" in result.output


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, FakeCollector]]:
    """A department: legacy database, broken mapping, config, fake collector running."""
    odbc = create_legacy_sqlite(tmp_path / "legacy.db", n=50)
    write_mapping(tmp_path / "mapping.toml", broken=True)
    fake = FakeCollector()
    with FakeCollectorServer(fake) as server:
        config = write_config(
            tmp_path, server.url, sources=sqlite_source(odbc, Path("mapping.toml"))
        )
        yield config, fake


def test_check_reaches_source_and_collector_and_changes_nothing(
    tmp_path: Path, site: tuple[Path, FakeCollector]
) -> None:
    config, fake = site
    write_mapping(tmp_path / "mapping.toml")  # the mapping that knows every time format
    result = invoke("check", "-c", str(config))
    assert result.exit_code == 0, result.output
    assert "source xzsp: reachable" in result.output
    assert "0 would be quarantined" in result.output
    assert f"reachable, collector key id {fake.key_id}" in result.output
    assert "not enrolled yet" in result.output
    assert "all checks passed" in result.output
    state = tmp_path / "state"
    assert not (state / OUTBOX_FILE).exists() and not (state / PRIVATE_KEY_FILE).exists()


def test_check_fails_when_sample_rows_would_be_quarantined_and_says_why(
    site: tuple[Path, FakeCollector],
) -> None:
    # The broken mapping does not know one of the legacy time formats: "20 sample rows, 6
    # would be quarantined ... 检查通过" with exit 0 sent department IT on to `run`.
    config, _ = site
    result = CliRunner().invoke(main, ["check", "-c", str(config)])
    assert result.exit_code == 1, result.output
    assert "检查通过" not in result.output and "检查未通过" in result.output
    assert "20 sample rows -> 12 valid, 6 would be quarantined, 2 excluded" in result.output
    listed = [line for line in result.output.splitlines() if "would be quarantined:" in line]
    assert len(listed) == 6 and "T_SQ_SLXX:48 would be quarantined" in listed[0]
    assert "SBSJ: cannot read '" in result.output and "formats" in result.output
    # Bounded: at most ten rows per table are listed.
    many = CliRunner().invoke(main, ["check", "-c", str(config), "--sample", "50"])
    assert many.exit_code == 1
    assert sum("would be quarantined:" in line for line in many.output.splitlines()) == 10
    assert "... and 5 more row(s)" in many.output


def test_check_fails_when_the_collector_key_is_not_the_pinned_one(
    tmp_path: Path, site: tuple[Path, FakeCollector]
) -> None:
    config, _ = site
    text = config.read_text("utf-8")
    config.write_text(
        text.replace("[collector]", '[collector]\ncollector_key_fingerprint = "0000000000000000"'),
        "utf-8",
    )
    result = invoke("check", "-c", str(config))
    assert result.exit_code == 1
    assert "but the config pins 0000000000000000" in result.output


def test_check_fails_when_the_source_is_unreachable(tmp_path: Path) -> None:
    write_mapping(tmp_path / "mapping.toml")
    source = sqlite_source("Driver={No Such Driver};Database=x", Path("mapping.toml"))
    config = write_config(tmp_path, "http://127.0.0.1:9", sources=source)
    result = CliRunner().invoke(main, ["check", "-c", str(config)])
    assert result.exit_code == 1
    assert "source xzsp: FAILED" in result.output and "not reachable" in result.output


def test_enrol_run_status_quarantine_and_backfill(
    tmp_path: Path, site: tuple[Path, FakeCollector]
) -> None:
    config, fake = site
    c = str(config)
    result = CliRunner().invoke(main, ["run", "-c", c, "--once"])
    assert result.exit_code == 1 and "not enrolled" in result.output

    result = invoke("enrol", "-c", c, "--token", "good-token")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "state" / ENROLMENT_FILE).exists()

    result = invoke("run", "-c", c, "--once")
    assert result.exit_code == 0, result.output
    assert f"{VALID} new" in result.output and f"{VALID} delivered" in result.output
    assert len(fake.records) == VALID and len(fake.heartbeats) == 1

    status = json.loads(invoke("status", "-c", c, "--json").output)
    assert status["outbox"]["pending"] == 0 and status["outbox"]["delivered"] == VALID
    assert status["outbox"]["quarantined"] == QUARANTINED
    assert status["cursors"][0]["cursor"]["key"] == 50
    assert status["agent_id"] in fake.agents and status["paused"] is None
    human = invoke("status", "-c", c).output
    assert "quarantined / 隔离:             15" in human and "xzsp" in human

    listed = json.loads(invoke("quarantine", "list", "-c", c, "--json").output)
    assert len(listed) == QUARANTINED and listed[0]["problems"][0]["path"] == "SBSJ"

    write_mapping(tmp_path / "mapping.toml")  # the fix
    result = invoke("quarantine", "replay", "-c", c)
    assert f"replayed {QUARANTINED} row(s)" in result.output
    assert invoke("run", "-c", c, "--once").exit_code == 0
    assert len(fake.records) == VALID + QUARANTINED
    assert "no quarantined rows" in invoke("quarantine", "list", "-c", c).output

    result = invoke("backfill", "-c", c, "--from", "2026-09-01", "--to", "2026-12-31")
    assert result.exit_code == 0, result.output
    assert "backfill done: 0 new records, 45 already present" in result.output
    sent = len(fake.manifests)
    invoke("run", "-c", c, "--once")
    assert len(fake.manifests) == sent  # nothing was sent twice


def test_backfill_rejects_a_bad_range(site: tuple[Path, FakeCollector]) -> None:
    config, _ = site
    result = CliRunner().invoke(
        main, ["backfill", "-c", str(config), "--from", "2026-10-01", "--to", "yesterday"]
    )
    assert result.exit_code == 2 and "not a date" in result.output
    result = CliRunner().invoke(
        main, ["backfill", "-c", str(config), "--from", "2026-10-01", "--to", "2026-10-01",
               "--source", "xzps"]
    )  # fmt: skip
    assert result.exit_code == 1 and "did you mean 'xzsp'" in result.output
    result = CliRunner().invoke(main, ["backfill", "-c", str(config), "--from", "2026-10-01"])
    assert result.exit_code == 2 and "both --from and --to" in result.output
    result = CliRunner().invoke(main, ["backfill", "-c", str(config), "--from-key", "1",
                                       "--to-key", "9"])  # fmt: skip
    assert result.exit_code == 0 and "skipped (needs --from/--to)" in result.output


def test_status_before_the_first_run_says_what_to_do(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    result = CliRunner().invoke(main, ["status", "-c", str(config)])
    assert result.exit_code == 1 and "has not run yet" in result.output


def test_the_init_example_checks_out_against_the_demo_legacy_system(tmp_path: Path) -> None:
    import shutil

    import agent.mapping

    odbc = create_legacy_sqlite(tmp_path / "legacy.db", n=20)
    demo = Path(agent.mapping.__file__).parent / "examples" / "legacy_demo.toml"
    shutil.copy(demo, tmp_path / "mapping.toml")
    path = tmp_path / "agent.toml"
    invoke("init", str(path))
    fake = FakeCollector()
    with FakeCollectorServer(fake) as server:
        text = (
            path.read_text("utf-8")
            .replace("Driver={SQLite3};Database=/var/lib/xzsp/xzsp.db", odbc)
            .replace('encoding = "gbk"\n', "")  # the demo database is UTF-8
            .replace("https://esup.example.gov.cn", server.url)
        )
        path.write_text(text, "utf-8")
        result = invoke("check", "-c", str(path))
    assert result.exit_code == 0, result.output
    # 20 applications feed SB and SL; four in five are completed (BJ).
    assert "  SB T_SQ_SLXX: 20 sample rows" in result.output
    assert "  SL T_SQ_SLXX: 20 sample rows" in result.output
    assert "  BJ (query): 16 sample rows" in result.output


def test_backfill_a_key_range_of_a_table_read_by_key(tmp_path: Path) -> None:
    odbc = create_legacy_sqlite(tmp_path / "legacy.db", n=30)
    write_mapping(tmp_path / "mapping.toml", broken=True)
    source = sqlite_source(odbc, Path("mapping.toml")).replace('mode = "timestamp"', 'mode = "key"')
    config = write_config(tmp_path, sources=source)
    result = invoke("backfill", "-c", str(config), "--from-key", "1", "--to-key", "10")
    assert result.exit_code == 0, result.output
    # Rows 1..10: row 10 is secret-level, rows 3, 6 and 9 use the unknown time format.
    assert "xzsp SB T_SQ_SLXX: 10 rows, 6 new" in result.output
    assert "3 quarantined" in result.output
    result = invoke("backfill", "-c", str(config), "--from-key", "1", "--to-key", "10")
    assert "0 new records, 6 already present" in result.output
