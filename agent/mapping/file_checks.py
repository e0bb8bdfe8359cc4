"""Checks of the mapping file's shape: every error names the key path and how to fix it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from agent.errors import ConfigError


def hint(word: str, choices: Iterable[str]) -> str:
    options = sorted(set(choices))
    close = difflib.get_close_matches(word, options, n=1)
    if close:
        return f"did you mean {close[0]!r}? / 是否应为 {close[0]!r}?"
    if len(options) > 30:
        return ""
    return f"known names / 可用名称: {', '.join(options)}"


def table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{where}: expected a table (key = value pairs), got {value!r} / {where} 应为一个表"
        )
    return value


def known_keys(data: Mapping[str, Any], known: Iterable[str], where: str) -> None:
    known = list(known)
    for key in data:
        if key not in known:
            raise ConfigError(
                f"{where}.{key}: unknown key / 未知的键 {key!r}; {hint(str(key), known)}".rstrip(
                    "; "
                )
            )


def typed(data: Mapping[str, Any], key: str, kinds: type | tuple[type, ...], where: str) -> Any:
    value = data[key]
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        ok = False
    else:
        ok = isinstance(value, kinds)
    if not ok:
        names = (
            " or ".join(k.__name__ for k in kinds) if isinstance(kinds, tuple) else kinds.__name__
        )
        raise ConfigError(
            f"{where}.{key}: expected {names}, got {value!r} / {where}.{key} 的类型应为 {names}"
        )
    return value


def string_list(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise ConfigError(
            f'{where}.{key}: expected a list of strings such as ["秘密", "机密"] / '
            f"{where}.{key} 应为字符串列表"
        )
    return tuple(str(v) for v in value)
