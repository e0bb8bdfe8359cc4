"""Settings of one legacy database (a source) and of each table read from it.

Built from the agent's config file by ``from_dict``; unknown or missing keys raise
``ConfigError`` naming the key path and, when a known key is close, the likely intended one.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from agent.errors import ConfigError

MODES = ("timestamp", "key", "snapshot")


def _hint(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    if close:
        return f"did you mean {close[0]!r}? / 是否应为 {close[0]!r}?"
    return f"known keys / 可用的键: {', '.join(choices)}"


def _check_keys(data: Any, known: list[str], required: list[str], where: str) -> None:
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{where}: expected a table of settings, got {type(data).__name__} / "
            f"{where} 应为一组键值设置"
        )
    for key in data:
        if key not in known:
            raise ConfigError(
                f"{where}.{key}: unknown setting / 未知设置项 {key!r}; {_hint(str(key), known)}"
            )
    for key in required:
        if data.get(key) in (None, ""):
            raise ConfigError(f"{where}.{key}: required setting is missing / 缺少必填设置项 {key}")


def _typed(data: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = data[key]
    ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
    if not ok:
        raise ConfigError(
            f"{where}.{key}: expected {kind.__name__}, got {value!r} / "
            f"{where}.{key} 的类型应为 {kind.__name__}"
        )
    return value


@dataclass(frozen=True)
class TableSettings:
    """One table (or query) of the legacy database feeding one spec record type."""

    record_type: str  # spec record type fed by this table: "SL", "BJ", "SX", ...
    table: str | None = None  # quoted as an identifier; may be schema.table
    query: str | None = None  # or an SQL query, used as a sub-select: SELECT * FROM (query) q
    mode: str = "timestamp"  # "timestamp" | "key" | "snapshot"
    timestamp_column: str | None = None
    key_column: str = "id"
    delay_seconds: int = 60  # upper bound = database's own now minus this
    reread_seconds: int = 600  # re-read window behind the cursor, for late commits

    @property
    def label(self) -> str:
        """How people recognise this table in messages."""
        return self.table or "(query)"

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> TableSettings:
        known = [f.name for f in fields(cls)]
        _check_keys(data, known, ["record_type"], where)
        kinds: dict[str, type] = {
            "record_type": str,
            "table": str,
            "query": str,
            "mode": str,
            "timestamp_column": str,
            "key_column": str,
            "delay_seconds": int,
            "reread_seconds": int,
        }
        values = {k: _typed(data, k, kinds[k], where) for k in data if data[k] is not None}
        if bool(values.get("table")) == bool(values.get("query")):
            raise ConfigError(
                f"{where}: set exactly one of 'table' or 'query' / "
                f"{where} 中 table 与 query 必须且只能设置一个"
            )
        mode = values.get("mode", "timestamp")
        if mode not in MODES:
            raise ConfigError(
                f"{where}.mode: unknown mode {mode!r}; use one of {', '.join(MODES)} / "
                f"未知的读取模式 {mode!r}"
            )
        if mode == "timestamp" and not values.get("timestamp_column"):
            raise ConfigError(
                f"{where}.timestamp_column: required when mode = 'timestamp' "
                "(the column holding the row's last change time) / "
                "timestamp 模式必须设置 timestamp_column(记录最后修改时间的列)"
            )
        for key in ("delay_seconds", "reread_seconds"):
            if values.get(key, 0) < 0:
                raise ConfigError(f"{where}.{key}: must be 0 or more / 不能为负数")
        return cls(**values)


@dataclass(frozen=True)
class SourceSettings:
    """One legacy database reached over ODBC."""

    name: str
    connection: str  # "Driver={SQLite3};Database=/x.db" or "DSN=name;..."
    encoding: str | None = None  # the database's character set, e.g. "gbk"; None: Unicode
    timezone: str = "Asia/Shanghai"  # zone of naive legacy times
    fetch_size: int = 1000
    tables: tuple[TableSettings, ...] = ()
    mapping: str | None = None  # path of this source's mapping file
    poll_seconds: int = 30

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str) -> SourceSettings:
        known = [f.name for f in fields(cls)]
        _check_keys(data, known, ["name", "connection"], where)
        kinds: dict[str, type] = {
            "name": str,
            "connection": str,
            "encoding": str,
            "timezone": str,
            "fetch_size": int,
            "mapping": str,
            "poll_seconds": int,
        }
        values: dict[str, Any] = {
            k: _typed(data, k, kinds[k], where)
            for k in data
            if k != "tables" and data[k] is not None
        }
        if "encoding" in values:
            from .text_encoding import check_setting

            check_setting(values["encoding"], where)
        if "timezone" in values:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(values["timezone"])
            except (ZoneInfoNotFoundError, ValueError):
                raise ConfigError(
                    f"{where}.timezone: unknown time zone {values['timezone']!r}; "
                    "use an IANA name such as 'Asia/Shanghai' / 未知的时区"
                ) from None
        for key in ("fetch_size", "poll_seconds"):
            if key in values and values[key] < 1:
                raise ConfigError(f"{where}.{key}: must be 1 or more / 必须不小于 1")
        raw_tables = data.get("tables") or []
        if not isinstance(raw_tables, list):
            raise ConfigError(
                f"{where}.tables: expected a list of tables ([[...tables]]) / tables 应为列表"
            )
        tables = tuple(
            TableSettings.from_dict(t, f"{where}.tables[{i}]") for i, t in enumerate(raw_tables)
        )
        return cls(tables=tables, **values)
