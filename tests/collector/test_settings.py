"""Settings are explicit, layered (CLI > env > file) and refuse unsafe values by name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from collector.errors import SettingsError
from collector.keys import load_or_create_key
from collector.settings import CollectorSettings, load_settings


def test_defaults_put_the_store_and_key_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings({"data_dir": tmp_path}, env={})
    assert settings.resolved_store_url == f"sqlite:///{(tmp_path / 'collector.db').resolve()}"
    assert settings.resolved_key_file == tmp_path / "collector.key"
    assert (settings.host, settings.port, settings.skew_seconds) == ("127.0.0.1", 8470, 300)


def test_cli_wins_over_env_which_wins_over_the_file(tmp_path: Path) -> None:
    config = tmp_path / "collector.toml"
    config.write_text("[collector]\nport = 9000\nskew_seconds = 120\nhost = '10.0.0.1'\n")
    settings = load_settings(
        {"port": 9100, "host": None},
        env={"ESUP_COLLECTOR_PORT": "9050", "ESUP_COLLECTOR_SKEW_SECONDS": "60"},
        config_file=config,
    )
    assert (settings.port, settings.skew_seconds, settings.host) == (9100, 60, "10.0.0.1")


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"skew_seconds": 0}, "skew_seconds"),
        ({"skew_seconds": 7200}, "skew_seconds"),
        ({"nonce_retention_seconds": 100}, "nonce_retention_seconds"),
        ({"port": 70000}, "port"),
        ({"max_body_bytes": 10}, "max_body_bytes"),
        ({"store_url": "mysql://root@db/x"}, "store_url"),
    ],
)
def test_unsafe_values_fail_fast_naming_the_setting(values: dict, named: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(SettingsError, match=named):
        load_settings(values, env={})


def test_an_unknown_key_in_the_file_is_named(tmp_path: Path) -> None:
    config = tmp_path / "collector.toml"
    config.write_text("[collector]\nskew = 5\n")
    with pytest.raises(SettingsError, match="'skew'"):
        load_settings(config_file=config, env={})


def test_a_non_integer_env_value_is_named() -> None:
    with pytest.raises(SettingsError, match="ESUP_COLLECTOR_PORT"):
        load_settings(env={"ESUP_COLLECTOR_PORT": "eighty"})


def test_the_collector_key_is_created_private_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "collector.key"
    first = load_or_create_key(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert load_or_create_key(path).key_id == first.key_id
    assert len(first.key_id) == 16


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "collector.key"
    load_or_create_key(path)
    path.chmod(0o644)
    with pytest.raises(SettingsError, match="chmod 600"):
        load_or_create_key(path)


def test_settings_are_a_plain_value() -> None:
    assert CollectorSettings().validated().store_url == ""
