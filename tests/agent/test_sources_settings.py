"""Source and table settings from the agent config: mistakes are named with a fix."""

from __future__ import annotations

from typing import Any

import pytest

from agent.errors import ConfigError
from agent.sources import SourceSettings, TableSettings
from agent.sources.dialects import driver_options

GOOD: dict[str, Any] = {
    "name": "qyxx",
    "connection": "DSN=legacy;Uid=esup;Pwd=x",
    "encoding": "gbk",
    "timezone": "Asia/Shanghai",
    "fetch_size": 500,
    "mapping": "/etc/esup/mapping.toml",
    "poll_seconds": 20,
    "tables": [
        {"record_type": "SL", "table": "dbo.T_SQ_SLXX", "timestamp_column": "XGSJ",
         "key_column": "ID", "delay_seconds": 30, "reread_seconds": 300},
        {"record_type": "SX", "table": "T_SXML", "mode": "snapshot"},
        {"record_type": "BJ", "query": "SELECT * FROM T_SP_BJXX", "mode": "key"},
    ],
}  # fmt: skip


def test_a_full_source_is_read_with_its_tables() -> None:
    settings = SourceSettings.from_dict(GOOD, "sources[0]")
    assert settings.encoding == "gbk" and settings.fetch_size == 500
    assert settings.tables[0] == TableSettings(
        record_type="SL",
        table="dbo.T_SQ_SLXX",
        timestamp_column="XGSJ",
        key_column="ID",
        delay_seconds=30,
        reread_seconds=300,
    )
    assert settings.tables[1].mode == "snapshot"
    assert settings.tables[2].query == "SELECT * FROM T_SP_BJXX"


def test_defaults_are_the_documented_ones() -> None:
    settings = SourceSettings.from_dict({"name": "a", "connection": "DSN=a"}, "sources[0]")
    assert (settings.timezone, settings.fetch_size, settings.poll_seconds) == (
        "Asia/Shanghai",
        1000,
        30,
    )
    table = TableSettings.from_dict(
        {"record_type": "SL", "table": "t", "timestamp_column": "ts"}, "t"
    )
    assert (table.mode, table.key_column, table.delay_seconds, table.reread_seconds) == (
        "timestamp",
        "id",
        60,
        600,
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"fetchsize": 10}, r"sources\[0\]\.fetchsize: unknown setting.*did you mean 'fetch_size'"),
        ({"connection": None}, r"sources\[0\]\.connection: required"),
        ({"encoding": "gbk2312"}, r"sources\[0\]\.encoding: unknown text encoding"),
        ({"timezone": "Beijing"}, r"sources\[0\]\.timezone: unknown time zone"),
        ({"fetch_size": 0}, r"sources\[0\]\.fetch_size: must be 1 or more"),
        ({"poll_seconds": "30"}, r"sources\[0\]\.poll_seconds: expected int"),
        ({"tables": {"record_type": "SL"}}, r"sources\[0\]\.tables: expected a list"),
    ],
)
def test_source_mistakes_name_the_key(change: dict[str, Any], expected: str) -> None:
    data = {**GOOD, **change}
    data = {k: v for k, v in data.items() if v is not None}
    with pytest.raises(ConfigError, match=expected):
        SourceSettings.from_dict(data, "sources[0]")


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"record_type": "SL", "table": "t", "timestamp_colum": "ts"},
         r"tables\[1\]\.timestamp_colum: unknown setting.*did you mean 'timestamp_column'"),
        ({"table": "t", "mode": "key"}, r"tables\[1\]\.record_type: required"),
        ({"record_type": "SL", "mode": "key"}, r"tables\[1\]: set exactly one of 'table' or"),
        ({"record_type": "SL", "table": "t", "query": "SELECT 1", "mode": "key"},
         r"exactly one of 'table' or 'query'"),
        ({"record_type": "SL", "table": "t", "mode": "rowversion"},
         r"tables\[1\]\.mode: unknown mode 'rowversion'"),
        ({"record_type": "SL", "table": "t"}, r"tables\[1\]\.timestamp_column: required when"),
        ({"record_type": "SL", "table": "t", "mode": "key", "delay_seconds": -1},
         r"delay_seconds: must be 0 or more"),
        ({"record_type": "SL", "table": "t", "mode": "key", "delay_seconds": True},
         r"delay_seconds: expected int"),
    ],
)  # fmt: skip
def test_table_mistakes_name_the_key(table: dict[str, Any], expected: str) -> None:
    data = {**GOOD, "tables": [GOOD["tables"][0], table]}
    with pytest.raises(ConfigError, match=expected):
        SourceSettings.from_dict(data, "sources[0]")


def test_streaming_and_charset_are_switched_on_unless_the_connection_string_decides() -> None:
    assert driver_options("postgresql", "Driver={PostgreSQL Unicode}", 500) == (
        "UseDeclareFetch=1;Fetch=500"
    )
    assert driver_options("postgresql", "DSN=x;UseDeclareFetch=0", 500) == ""
    assert driver_options("mariadb", "DSN=x", 500) == "CHARSET=utf8mb4"
    assert driver_options("mariadb", "DSN=x;charset=gbk", 500) == ""
    assert driver_options("sqlite", "DSN=x", 500) == ""
