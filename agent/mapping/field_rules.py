"""One spec field's rule: where its value comes from and how it is converted.

A rule takes its value from a ``column`` of the legacy row, a ``constant`` or a
``template`` over other values, then applies, in this order: trimming and placeholders,
``default``, ``codes`` translation, ``type`` conversion, ``format``, ``upper``, and finally
``mask`` or ``hash`` (so the raw personal value never reaches the record).

``FieldRule.bind`` compiles a rule once per mapping into a closure over what does not
depend on the row (the conversion, codes, formats, template parts), so a row costs only
the steps its field has.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from agent.errors import ConfigError

from . import file_checks as check
from .legacy_times import TimeReader
from .values import (
    AUTO_TIME_FORMATS,
    ValueProblem,
    clean,
    keyed_hash,
    mask,
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

#: A compiled rule: the spec value of a legacy row (None: leave the field out).
Getter = Callable[[Mapping[str, Any]], Any]


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

    def bind(self, ctx: Context) -> Getter:
        """The rule compiled for ``ctx``: ``getter(row)`` is the spec value for ``row``
        (None: leave the field out) or raises ValueProblem.

        Everything that does not depend on the row (which source, conversion, codes,
        formats, template parts) is decided here once, not for every row."""
        source = self._bind_source(ctx)
        convert = self._bind_convert(ctx)
        placeholders = self.placeholders or ctx.placeholders
        trim = self.trim
        default = self.default
        codes = self.codes
        where = self.where
        spec = self.format
        as_text = _bind_time_format(spec) if self.type == "time" and spec else None
        upper = self.upper
        masking = self.masking
        hashing = self.hash
        key = ctx.hmac_key
        if self._is_plain_column():
            return _plain_column(source, placeholders)

        def getter(row: Mapping[str, Any]) -> Any:
            value = source(row)
            if type(value) is str:
                if trim:
                    value = value.strip()
                    if value in placeholders:
                        value = None
                elif value in placeholders or value.strip() in placeholders:
                    value = None
            elif value is not None:
                value = clean(value, placeholders, trim)
            if value is None:
                value = default
                if value is None:
                    return None
            if codes is not None:
                legacy = value.strip() if type(value) is str else _code_text(value)
                if legacy not in codes:
                    raise ValueProblem(
                        "mapping.unknown_code",
                        f"原系统代码 {legacy!r} 没有对应的规范代码;请在映射文件 "
                        f'{where}.codes 中加入 "{legacy}" = "<规范代码>"',
                        f"legacy code {legacy!r} has no translation; add "
                        f'"{legacy}" = "<spec code>" to {where}.codes in the mapping file',
                    )
                value = codes[legacy]
            value = convert(value)
            if as_text is not None:
                value = as_text(value, where)
            elif spec is not None:
                value = _format(value, spec, where)
            if upper and isinstance(value, str):
                value = value.upper()
            if masking is not None:
                return mask(str(value), masking.keep_start, masking.keep_end, masking.char)
            if hashing:
                return keyed_hash(str(value), key)
            return value

        return getter

    def _is_plain_column(self) -> bool:
        """A column taken as text as it is (trimmed), the commonest rule."""
        return (
            self.column is not None
            and self.type == "string"
            and self.trim
            and self.default is None
            and self.codes is None
            and self.format is None
            and not self.upper
            and self.masking is None
            and not self.hash
        )

    def _bind_source(self, ctx: Context) -> Getter:
        if self.column is not None:
            name = self.column
            where = self.where
            find = _ColumnFinder(name)

            def column(row: Mapping[str, Any]) -> Any:
                if name in row:
                    return row[name]
                found = find(row)
                if found is not None:
                    return row[found]
                raise ValueProblem(
                    "mapping.missing_column",
                    f"数据行中没有列 {name!r};请核对映射文件 {where}.column 或数据源的表/查询",
                    f"the row has no column {name!r}; check {where}.column in the "
                    "mapping file or the source's table/query",
                )

            return column
        if self.template is not None:
            return _bind_template(self, ctx)
        constant = self.constant
        return lambda row: constant

    def _bind_convert(self, ctx: Context) -> Callable[[Any], Any]:
        if self.type in ("time", "date"):
            reader = TimeReader(ctx.zone, self.formats)
            if self.type == "time":
                return reader.iso

            def to_date(value: Any) -> str:
                if isinstance(value, date) and not isinstance(value, datetime):
                    return value.isoformat()
                return reader.date_iso(value)

            return to_date
        if self.type == "int":
            return to_int
        if self.type == "decimal":
            places = self.places
            return lambda value: to_decimal(value, places)
        return _to_text


def _plain_column(source: Getter, placeholders: frozenset[str]) -> Getter:
    """``FieldRule.bind`` of a plain column rule, without the steps it does not have."""

    def plain(row: Mapping[str, Any]) -> Any:
        value = source(row)
        if type(value) is str:
            value = value.strip()
            return None if value in placeholders else value
        if value is None:
            return None
        value = clean(value, placeholders, True)
        return None if value is None else _to_text(value)

    return plain


def _to_text(value: Any) -> Any:
    if type(value) is str:
        return value
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


class _ColumnFinder:
    """``_column_in`` for one name, remembering the answer for rows with the same keys
    (every row of a table has them): a name the row lacks, such as a constant a template
    uses, would otherwise cost a scan of the whole row each time."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lowered = name.lower()
        self._last: tuple[frozenset[Any], Any] | None = None

    def __call__(self, row: Mapping[str, Any]) -> Any:
        if self.name in row:
            return self.name
        last = self._last
        keys = row.keys()
        if last is not None and keys == last[0]:
            return last[1]
        matches = [key for key in keys if str(key).lower() == self.lowered]
        found = matches[0] if matches else None
        if len(matches) <= 1:  # with several, the first depends on the row's key order
            self._last = (frozenset(keys), found)
        return found


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
                raise _template_empty(key, self.where)
            return value
        raise _template_unknown(key, self.where)

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


#: strftime directives whose text is a slice of an ISO time "YYYY-MM-DDTHH:MM:SS+..".
_ISO_SLICES = {"Y": (0, 4), "m": (5, 7), "d": (8, 10), "H": (11, 13), "M": (14, 16), "S": (17, 19)}


def _bind_time_format(spec: str) -> Callable[[Any, str], Any] | None:
    """``_format`` for a converted time and a plain strftime ``spec`` (%Y %m %d %H %M %S
    and printable ASCII), cut from the ISO text instead of parsed back and strftime'd.
    None when ``spec`` has anything else (``_format`` is used then)."""
    pieces: list[str | tuple[int, int]] = []
    i = 0
    while i < len(spec):
        char = spec[i]
        if char == "%":
            if i + 1 < len(spec) and spec[i + 1] in _ISO_SLICES:
                pieces.append(_ISO_SLICES[spec[i + 1]])
                i += 2
                continue
            return None
        if not (char.isascii() and char.isprintable()):
            return None
        pieces.append(char)
        i += 1
    if not pieces:
        return None

    def as_text(value: Any, where: str) -> Any:
        # Years before 1000 and anything but an ISO time go the long way (strftime pads
        # years differently by platform).
        if type(value) is not str or len(value) < 19 or value[10] != "T" or value[0] == "0":
            return _format(value, spec, where)
        return "".join(p if isinstance(p, str) else value[p[0] : p[1]] for p in pieces)

    return as_text


def _clean_text(value: Any, placeholders: frozenset[str]) -> Any:
    """``clean(value, placeholders)`` with its common case (text) first."""
    if type(value) is str:
        text = value.strip()
        return None if text in placeholders else text
    return clean(value, placeholders)


def _template_parts(template: str) -> list[tuple[str, str | None, str]] | None:
    """(literal, field, spec) parts of a template whose fields are plain names with plain
    specs, or None when it uses more of str.format (attributes, indexes, conversions,
    nested fields, automatic numbering): those go through ``_TemplateFormatter``."""
    parts: list[tuple[str, str | None, str]] = []
    for literal, name, spec, conversion in string.Formatter().parse(template):
        if name is not None:
            if not name.isidentifier() or conversion is not None or "{" in (spec or ""):
                return None
        parts.append((literal, name, spec or ""))
    return parts


def _bind_template(rule: FieldRule, ctx: Context) -> Getter:
    assert rule.template is not None
    template = rule.template
    where = rule.where
    constants = ctx.constants
    placeholders = ctx.placeholders
    var_getters = [(name, var.bind(ctx)) for name, var in rule.vars.items()]
    # Columns are read (and cleaned) before vars, in template order, as str.format would.
    columns = [
        _ColumnFinder(n)
        for n in dict.fromkeys(n for n in _template_names(template) if n not in rule.vars)
    ]
    parts = _template_parts(template)

    def named(row: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for find in columns:
            name = find.name
            if name in row:
                values[name] = _clean_text(row[name], placeholders)
            else:
                found = find(row)
                if found is not None:
                    values[name] = clean(row[found], placeholders)
        for name, getter in var_getters:
            values[name] = getter(row)
        return values

    if parts is None:
        formatter = _TemplateFormatter(where)

        def general(row: Mapping[str, Any]) -> Any:
            return formatter.format(template, **{**constants, **named(row)})

        return general

    def compiled(row: Mapping[str, Any]) -> str:
        values = named(row)
        out: list[str] = []
        for literal, name, spec in parts:
            if literal:
                out.append(literal)
            if name is None:
                continue
            if name in values:
                value = values[name]
            elif name in constants:
                value = constants[name]
            else:
                raise _template_unknown(name, where)
            if value is None:
                raise _template_empty(name, where)
            out.append(value if not spec and type(value) is str else _format(value, spec, where))
        return "".join(out)

    return compiled


def _template_empty(key: int | str, where: str) -> ValueProblem:
    return ValueProblem(
        "mapping.template_empty",
        f"组成 {where} 所需的 {key} 为空",
        f"{key}, needed to compose {where}, is empty",
    )


def _template_unknown(key: int | str, where: str) -> ValueProblem:
    return ValueProblem(
        "mapping.template_unknown",
        f"{where}.template 中的 {{{key}}} 既不是列名、常量,也不是 vars 中的变量",
        f"{{{key}}} in {where}.template is not a column, constant or var",
    )
