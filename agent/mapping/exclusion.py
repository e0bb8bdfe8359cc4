"""Exclusion rules: rows that must never leave the machine (secret-level items, ...)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agent.errors import ConfigError

from . import file_checks as check

RULE_KEYS = ("column", "field", "in", "not_in", "matches", "reason")


@dataclass(frozen=True)
class Exclusion:
    where: str
    column: str | None  # a column of the legacy row (trimmed text)
    field: str | None  # or a field of the mapped record
    values: frozenset[str] | None  # exclude when the value is in these
    not_values: frozenset[str] | None  # exclude when the value is not in these
    pattern: re.Pattern[str] | None  # exclude when the value matches
    reason: str

    def applies(
        self, row: Mapping[str, Any], record: Mapping[str, Any], placeholders: frozenset[str]
    ) -> str | None:
        """Why this rule excludes the row, or None. Placeholders count as empty ("")."""
        name = self.column if self.column is not None else self.field
        assert name is not None
        source: Mapping[str, Any] = row if self.column is not None else record
        value = source.get(name)
        if value is None and self.column is not None:
            for key in row:  # drivers may fold the case of column names
                if str(key).lower() == name.lower():
                    value = row[key]
        if isinstance(value, bytes | bytearray):
            value = None  # undecoded text: the row is invalid anyway, reported elsewhere
        text = "" if value is None else str(value).strip()
        if text in placeholders:
            text = ""
        hit = (
            (self.values is not None and text in self.values)
            or (self.not_values is not None and text not in self.not_values)
            or (self.pattern is not None and self.pattern.search(text) is not None)
        )
        return f"{self.reason} ({name}={text})" if hit else None


def compile_exclusions(data: Any, where: str) -> tuple[Exclusion, ...]:
    if not isinstance(data, list):
        raise ConfigError(
            f"{where}: write exclusion rules as [[...exclude]] tables / 排除规则应写成 "
            "[[exclude]] 表数组"
        )
    rules = []
    for i, raw in enumerate(data):
        at = f"{where}[{i}]"
        raw = check.table(raw, at)
        check.known_keys(raw, RULE_KEYS, at)
        if ("column" in raw) == ("field" in raw):
            raise ConfigError(
                f"{at}: give exactly one of 'column' (legacy row) or 'field' (spec record) / "
                "column 与 field 必须且只能设置一个"
            )
        tests = [k for k in ("in", "not_in", "matches") if k in raw]
        if len(tests) != 1:
            raise ConfigError(
                f"{at}: give exactly one of 'in', 'not_in' or 'matches' / "
                "in、not_in、matches 必须且只能设置一个"
            )
        pattern = None
        if "matches" in raw:
            try:
                pattern = re.compile(check.typed(raw, "matches", str, at))
            except re.error as exc:
                raise ConfigError(f"{at}.matches: not a valid pattern ({exc}) / 正则错误") from exc
        rules.append(
            Exclusion(
                where=at,
                column=check.typed(raw, "column", str, at) if "column" in raw else None,
                field=check.typed(raw, "field", str, at) if "field" in raw else None,
                values=frozenset(check.string_list(raw, "in", at)) if "in" in raw else None,
                not_values=(
                    frozenset(check.string_list(raw, "not_in", at)) if "not_in" in raw else None
                ),
                pattern=pattern,
                reason=(
                    check.typed(raw, "reason", str, at) if "reason" in raw else "excluded by rule"
                ),
            )
        )
    return tuple(rules)
