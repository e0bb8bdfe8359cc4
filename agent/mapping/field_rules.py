"""One spec field's rule: where its value comes from and how it is converted.

A rule takes its value from a ``column`` of the legacy row, a ``constant`` or a
``template`` over other values, then applies, in this order: trimming and placeholders,
``default``, ``codes`` translation, ``type`` conversion, ``format``, ``upper``, and finally
``mask`` or ``hash`` (so the raw personal value never reaches the record).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from agent.errors import ConfigError

from . import file_checks as check
from .values import (
    AUTO_TIME_FORMATS,
    ValueProblem,
    clean,
    keyed_hash,
    mask,
    parse_time,
    to_decimal,
    to_int,
)

TYPES = ("string", "int", "decimal", "time", "date")
FIELD_KEYS = (
    "column",
    "constant",
    "template",
    "vars",
    "type",
    "formats",
    "format",
    "codes",
    "default",
    "trim",
    "upper",
    "places",
    "mask",
    "hash",
    "placeholders",
)
MASK_KEYS = ("keep_start", "keep_end", "char")


@dataclass(frozen=True)
class Masking:
    keep_start: int = 0
    keep_end: int = 0
    char: str = "*"


@dataclass(frozen=True)
class Context:
    """What a rule needs besides the row: the zone of naive times and the hashing key."""

    zone: ZoneInfo
    hmac_key: bytes
    placeholders: frozenset[str]
    constants: Mapping[str, Any]


@dataclass(frozen=True)
class FieldRule:
    where: str  # key path in the mapping file, named in problems
    column: str | None = None
    constant: Any = None
    template: str | None = None
    vars: Mapping[str, FieldRule] = field(default_factory=dict)
    type: str = "string"
    formats: tuple[str, ...] = AUTO_TIME_FORMATS
    format: str | None = None
    codes: Mapping[str, Any] | None = None
    default: Any = None
    trim: bool = True
    upper: bool = False
    places: int = 2
    masking: Masking | None = None
    hash: bool = False
    placeholders: frozenset[str] | None = None

    def value(self, row: Mapping[str, Any], ctx: Context) -> Any:
        """The spec value for ``row`` (None: leave the field out). Raises ValueProblem."""
        raw = self._source(row, ctx)
        value = clean(raw, self.placeholders or ctx.placeholders, self.trim)
        if value is None:
            value = self.default
        if value is None:
            return None
        if self.codes is not None:
            legacy = _code_text(value)
            if legacy not in self.codes:
                raise ValueProblem(
                    "mapping.unknown_code",
                    f"原系统代码 {legacy!r} 没有对应的规范代码;请在映射文件 "
                    f'{self.where}.codes 中加入 "{legacy}" = "<规范代码>"',
                    f"legacy code {legacy!r} has no translation; add "
                    f'"{legacy}" = "<spec code>" to {self.where}.codes in the mapping file',
                )
            value = self.codes[legacy]
        value = self._convert(value, ctx)
        if self.format is not None:
            value = _format(value, self.format, self.where)
        if self.upper and isinstance(value, str):
            value = value.upper()
        if self.masking is not None:
            m = self.masking
            value = mask(str(value), m.keep_start, m.keep_end, m.char)
        elif self.hash:
            value = keyed_hash(str(value), ctx.hmac_key)
        return value

    def _source(self, row: Mapping[str, Any], ctx: Context) -> Any:
        if self.column is not None:
            column = _column_in(row, self.column)
            if column is not None:
                return row[column]
            raise ValueProblem(
                "mapping.missing_column",
                f"数据行中没有列 {self.column!r};请核对映射文件 {self.where}.column "
                "或数据源的表/查询",
                f"the row has no column {self.column!r}; check {self.where}.column in the "
                "mapping file or the source's table/query",
            )
        if self.template is not None:
            names: dict[str, Any] = dict(ctx.constants)
            for name in _template_names(self.template):
                if name in self.vars:
                    continue
                column = _column_in(row, name)
                if column is not None:
                    names[name] = clean(row[column], ctx.placeholders)
            for name, rule in self.vars.items():
                names[name] = rule.value(row, ctx)
            return _TemplateFormatter(self.where).format(self.template, **names)
        return self.constant

    def _convert(self, value: Any, ctx: Context) -> Any:
        if self.type == "time":
            return parse_time(value, ctx.zone, self.formats).isoformat(timespec="seconds")
        if self.type == "date":
            if isinstance(value, date) and not isinstance(value, datetime):
                return value.isoformat()
            return parse_time(value, ctx.zone, self.formats).date().isoformat()
        if self.type == "int":
            return to_int(value)
        if self.type == "decimal":
            return to_decimal(value, self.places)
        if isinstance(value, datetime | date):
            # A SQL time mapped to a text field keeps its local wall-clock reading.
            return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return value if isinstance(value, str) else str(value)


def _column_in(row: Mapping[str, Any], name: str) -> Any:
    """The row's key for column ``name``: drivers may fold the case of column names."""
    if name in row:
        return name
    lowered = name.lower()
    return next((key for key in row if str(key).lower() == lowered), None)


@cache
def _template_names(template: str) -> tuple[str, ...]:
    """The names a template refers to: ``{YEAR}{LSH:06d}`` -> ("YEAR", "LSH")."""
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)


def _code_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _format(value: Any, spec: str, where: str) -> str:
    try:
        if spec.endswith("d") and isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, str) and ("%" in spec) and "T" in value:
            value = datetime.fromisoformat(value)  # a converted time: format its parts
        return format(value, spec)
    except (ValueError, TypeError) as exc:
        raise ValueProblem(
            "mapping.bad_format",
            f"无法按格式 {spec!r} 输出 {value!r}({where}.format)",
            f"cannot format {value!r} with {spec!r} ({where}.format): {exc}",
        ) from exc


class _TemplateFormatter(string.Formatter):
    """str.format with problems in words and digit strings accepted by integer specs."""

    def __init__(self, where: str) -> None:
        self.where = where

    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        if isinstance(key, str) and key in kwargs:
            value = kwargs[key]
            if value is None:
                raise ValueProblem(
                    "mapping.template_empty",
                    f"组成 {self.where} 所需的 {key} 为空",
                    f"{key}, needed to compose {self.where}, is empty",
                )
            return value
        raise ValueProblem(
            "mapping.template_unknown",
            f"{self.where}.template 中的 {{{key}}} 既不是列名、常量,也不是 vars 中的变量",
            f"{{{key}}} in {self.where}.template is not a column, constant or var",
        )

    def format_field(self, value: Any, format_spec: str) -> Any:
        return _format(value, format_spec, self.where)


def compile_rule(
    data: Any,
    where: str,
    codes_allowed: frozenset[str] | None = None,
    implied_type: str | None = None,
) -> FieldRule:
    """A FieldRule from the mapping file's table at ``where``; ConfigError when it is wrong.

    ``codes_allowed``: the spec codes the field accepts; ``implied_type``: the conversion
    the field's schema implies (time, int, ...), used when the file gives no ``type``.
    """
    if isinstance(data, str):
        data = {"column": data}  # SLBH = "YWLSH" is short for { column = "YWLSH" }
    data = check.table(data, where)
    check.known_keys(data, FIELD_KEYS, where)
    sources = [k for k in ("column", "constant", "template") if k in data]
    if len(sources) != 1:
        raise ConfigError(
            f"{where}: give exactly one of 'column', 'constant' or 'template' "
            f"(found {', '.join(sources) or 'none'}) / 必须且只能设置 column、constant、"
            "template 之一"
        )
    values: dict[str, Any] = {"where": where}
    if "column" in data:
        values["column"] = check.typed(data, "column", str, where)
    if "constant" in data:
        values["constant"] = check.typed(data, "constant", (str, int, float), where)
    if "template" in data:
        template = check.typed(data, "template", str, where)
        try:
            list(string.Formatter().parse(template))
        except ValueError as exc:
            raise ConfigError(f"{where}.template: {exc} / 模板格式错误") from exc
        values["template"] = template
    if "vars" in data:
        if "template" not in data:
            raise ConfigError(f"{where}.vars: only used with 'template' / vars 仅用于 template")
        raw_vars = check.table(data["vars"], f"{where}.vars")
        values["vars"] = {str(k): compile_rule(v, f"{where}.vars.{k}") for k, v in raw_vars.items()}
    if implied_type is not None and "template" not in data:
        values["type"] = implied_type
    if "type" in data:
        kind = check.typed(data, "type", str, where)
        if kind not in TYPES:
            raise ConfigError(
                f"{where}.type: unknown type {kind!r}; {check.hint(kind, TYPES)} / 未知类型"
            )
        values["type"] = kind
    if "formats" in data:
        if data["formats"] and isinstance(data["formats"], str):
            values["formats"] = (data["formats"],)
        else:
            values["formats"] = check.string_list(data, "formats", where)
        if values.get("type") not in ("time", "date"):
            raise ConfigError(
                f'{where}.formats: only used with type = "time" or "date" / '
                "formats 仅用于 time 或 date 类型"
            )
    for key, kinds in (("format", str), ("trim", bool), ("upper", bool), ("hash", bool)):
        if key in data:
            values[key] = check.typed(data, key, kinds, where)
    if "places" in data:
        values["places"] = check.typed(data, "places", int, where)
    if "default" in data:
        values["default"] = check.typed(data, "default", (str, int, float), where)
    if "placeholders" in data:
        values["placeholders"] = frozenset(check.string_list(data, "placeholders", where))
    if "codes" in data:
        codes = check.table(data["codes"], f"{where}.codes")
        for legacy, spec_code in codes.items():
            if not isinstance(spec_code, str | int):
                raise ConfigError(
                    f'{where}.codes.{legacy}: the spec code must be text such as "1" / '
                    "规范代码应为文本"
                )
            if codes_allowed is not None and str(spec_code) not in codes_allowed:
                raise ConfigError(
                    f"{where}.codes.{legacy}: {spec_code!r} is not a code of the spec; "
                    f"allowed: {', '.join(sorted(codes_allowed))} / 不是规范中的代码,"
                    f"可用代码: {', '.join(sorted(codes_allowed))}"
                )
        # Spec codes are text: a TOML number 1 means the code "1".
        values["codes"] = {str(k).strip(): str(v) for k, v in codes.items()}
    if "mask" in data:
        raw_mask = check.table(data["mask"], f"{where}.mask")
        check.known_keys(raw_mask, MASK_KEYS, f"{where}.mask")
        kw: dict[str, Any] = {}
        for key in ("keep_start", "keep_end"):
            if key in raw_mask:
                kw[key] = check.typed(raw_mask, key, int, f"{where}.mask")
                if kw[key] < 0:
                    raise ConfigError(f"{where}.mask.{key}: must be 0 or more / 不能为负数")
        if "char" in raw_mask:
            kw["char"] = check.typed(raw_mask, "char", str, f"{where}.mask")
        values["masking"] = Masking(**kw)
    if values.get("masking") and values.get("hash"):
        raise ConfigError(f"{where}: use either 'mask' or 'hash', not both / mask 与 hash 二选一")
    return FieldRule(**values)
