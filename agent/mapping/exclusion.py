"""Exclusion rules: rows that must never leave the machine (secret-level items, ...)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from agent.errors import ConfigError

from . import file_checks as check
from .values import ValueProblem

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
        """Why this rule excludes the row, or None. Placeholders count as empty ("").

        Raises ValueProblem when the value cannot be tested (the column is not in the row,
        or its text was not decoded): such a row must never be sent on a guess.
        """
        if self.column is not None:
            name = self.column
            value = column_value(row, self.column, self.where)
        else:
            assert self.field is not None
            name = self.field
            value = record.get(self.field)
        if isinstance(value, bytes | bytearray) or (
            isinstance(value, str) and REPLACEMENT in value
        ):
            raise ValueProblem(
                "mapping.exclusion_undecodable",
                f"排除规则 {self.where} 所检查的 {name} 列的文本未能正确解码,不能判断是否涉密,"
                "该行已隔离;请将数据源的 encoding 设置为数据库实际使用的字符集",
                f"the exclusion rule {self.where} cannot test {name}: its text was not "
                "decoded, so whether the row is secret is unknown and the row is kept here; "
                "set the source's encoding to the database's character set",
            )
        text = "" if value is None else str(value).strip()
        if text in placeholders:
            text = ""
        hit = (
            (self.values is not None and text in self.values)
            or (self.not_values is not None and text not in self.not_values)
            or (self.pattern is not None and self.pattern.search(text) is not None)
        )
        return f"{self.reason} ({name}={text})" if hit else None


#: What a lossy decoder puts for bytes it could not read.
REPLACEMENT = "\ufffd"


def find_column(names: Iterable[str], column: str) -> str | None:
    """The name under which ``column`` appears (drivers may fold the case of names)."""
    names = list(names)
    if column in names:
        return column
    for name in names:
        if str(name).lower() == column.lower():
            return str(name)
    return None


def column_value(row: Mapping[str, Any], column: str, where: str) -> Any:
    if column in row:
        return row[column]
    found = find_column(row, column)
    if found is None:
        raise ValueProblem(
            "mapping.exclusion_column_missing",
            f"排除规则 {where} 检查的列 {column} 不在该表(或查询)的结果中,不能判断是否涉密,"
            f"该行已隔离;请在查询中加入 {column} 列,或把规则移到只适用于有该列的记录类型的 "
            "[[types.<类型>.exclude]] 下",
            f"the exclusion rule {where} tests column {column!r}, which this table or query "
            "does not have, so whether the row is secret is unknown and the row is kept "
            f"here. Fix: add {column} to the query (e.g. join the table that holds it), or "
            "move the rule under [[types.<TYPE>.exclude]] of the record types read from "
            "tables that have it",
        )
    return row[found]


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
