from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from agent.cli import example_config
from agent.config import SECTIONS, load_config
from agent.errors import ConfigError

from .agent_setup import config_text, write_config

DOCS = Path(__file__).resolve().parents[2] / "docs" / "agent-config.md"


def test_the_example_config_parses_with_every_section(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(example_config(), "utf-8")
    config = load_config(path)
    assert config.agent.department == "330102001"
    assert config.agent.state_dir == tmp_path / "state"
    [source] = config.sources
    assert source.mapping == str(tmp_path / "mapping.toml")  # relative to the config file
    assert [t.record_type for t in source.tables] == ["SB", "SL", "BJ"]
    assert config.outbox.batch_max_records == 500
    assert (config.metrics.host, config.metrics.port) == ("127.0.0.1", 9464)


def test_every_accepted_key_is_in_the_example_and_the_docs() -> None:
    example = tomllib.loads(example_config())
    docs = DOCS.read_text("utf-8")
    for section, keys in SECTIONS.items():
        for key in keys:
            assert key.name in example[section], f"{section}.{key.name} missing in the example"
            assert f"`{section}.{key.name}`" in docs, f"{section}.{key.name} missing in docs"
    source = example["sources"][0]
    for name in set(source) - {"tables"}:
        assert f"`sources.{name}`" in docs, f"sources.{name} missing in docs"
    for name in {k for t in source["tables"] for k in t}:
        assert f"`sources.tables.{name}`" in docs, f"sources.tables.{name} missing in docs"


def test_the_docs_name_no_key_the_loader_refuses() -> None:
    docs = DOCS.read_text("utf-8")
    accepted = {f"{s}.{k.name}" for s, keys in SECTIONS.items() for k in keys}
    documented = set(
        re.findall(r"^\| `((?:agent|collector|outbox|push|heartbeat|metrics)\.\w+)` \|", docs, re.M)
    )
    assert documented <= accepted, documented - accepted


def test_a_misspelt_key_is_refused_by_name_with_a_hint(tmp_path: Path) -> None:
    path = write_config(tmp_path, outbox="max_recods = 10")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "outbox.max_recods" in message and "did you mean 'max_records'" in message
    assert str(path) in message


def test_unknown_sections_and_source_keys_are_refused(tmp_path: Path) -> None:
    path = write_config(tmp_path, extra="[colector]\nurl = 'x'")
    with pytest.raises(ConfigError, match=r"unknown key 'colector'.*did you mean 'collector'"):
        load_config(path)
    path = write_config(
        tmp_path, sources='[[sources]]\nname = "a"\nconnection = "DSN=x"\npoll_second = 3\n'
    )
    with pytest.raises(ConfigError, match=r"sources\[0\]\.poll_second.*poll_seconds"):
        load_config(path)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("[push]", "[push]\ninterval_seconds = 'often'"), "'push.interval_seconds' must be float"),
        (("[outbox]", "[outbox]\nmax_records = 0"), "at least 1"),
        (('department = "330102001"', ""), "missing 'agent.department'"),
        (("https://collector.test", "http://collector.example.cn"), "Fix: use https://"),
        (("https://collector.test", "ftp://x"), "must look like https://"),
        (("enabled = false", 'listen = "9464"'), "metrics.listen"),
        # a year 4700 window overflowed every hourly reconciliation pass
        (("[outbox]", "[reconcile]\ndays = 1000000\n\n[outbox]"), "at most 92"),
    ],
)
def test_wrong_values_are_explained(tmp_path: Path, change: tuple[str, str], words: str) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(config_text(tmp_path / "state").replace(*change, 1), "utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert words in str(info.value) or re.search(words, str(info.value)), str(info.value)


def test_missing_and_broken_files_are_explained(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="esup-agent init"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[agent\n", "utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_plain_http_is_allowed_to_this_machine_only(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "http://127.0.0.1:8080/"))
    assert config.collector.url == "http://127.0.0.1:8080"
