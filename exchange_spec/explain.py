"""Turning schema failures into Problems a department IT person understands.

Only called when the fast validator has said "no": it runs jsonschema's Draft 2020-12
validator over the same resolved schema and words every error with the field's pinyin code,
its Chinese and English names, the allowed codes or the expected form.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators

from .problem import Problem
from .schema_store import CODE_TABLE_KEYWORD, FORMAT_KEYWORD, code_table, resolved_schema
from .wording import (
    JSON_TYPE_ZH,
    codes_en,
    codes_zh,
    field_en,
    field_zh,
    json_type,
    shown,
)

#: Expected form of a string per shared format: (Chinese, English).
FORMS: dict[str, tuple[str, str]] = {
    "time": (
        "带时区偏移的 ISO 8601 时间,例如 2026-09-24T10:00:00+08:00",
        "an ISO 8601 time with a UTC offset, e.g. 2026-09-24T10:00:00+08:00",
    ),
    "date": ("ISO 8601 日期,例如 2026-09-24", "an ISO 8601 date, e.g. 2026-09-24"),
    "xzqhdm": ("6 位数字的行政区划代码,例如 430700", "a 6-digit region code, e.g. 430700"),
    "code": (
        "只含字母、数字、点、下划线和连字符的编码",
        "a code of letters, digits, dots, underscores and hyphens only",
    ),
    "sha256": ("64 位小写十六进制的 SHA-256 值", "a SHA-256 value as 64 lowercase hex digits"),
}


@cache
def _python_regex(pattern: str) -> re.Pattern[str]:
    # in JSON Schema (ECMA 262) "$" does not match before a trailing newline; in Python it
    # does. fastjsonschema rewrites a final "$" to "\\Z": do the same so both agree
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + "\\Z"
    return re.compile(pattern)


def _pattern(validator: Any, pattern: str, instance: Any, _schema: Any) -> Iterator[Any]:
    if isinstance(instance, str) and not _python_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# both validators follow JSON Schema: 1.0 is an integer (canonical form writes it as 1)
_ExplainingValidator = validators.extend(Draft202012Validator, {"pattern": _pattern})


@cache
def _validator(record_type: str) -> Any:
    return _ExplainingValidator(resolved_schema(record_type))


def explain(record: Mapping[str, Any], record_type: str) -> list[Problem]:
    """Every schema problem of a record of a known type (empty when the schema is satisfied)."""
    problems: list[Problem] = []
    errors = sorted(_validator(record_type).iter_errors(record), key=lambda e: list(e.path))
    for error in errors:
        problems.extend(_word(error, record_type))
    return problems


def _field_of(error: ValidationError) -> str:
    return "/".join(str(p) for p in error.absolute_path)


def _word(error: ValidationError, rt: str) -> list[Problem]:
    kind = error.validator
    path = _field_of(error)
    field = str(error.absolute_path[0]) if error.absolute_path else ""
    schema: dict[str, Any] = error.schema if isinstance(error.schema, dict) else {}
    value = error.instance
    if kind == "required" and isinstance(value, Mapping):
        return [
            Problem(
                "schema.required",
                missing,
                f"{rt} 记录缺少必填字段 {field_zh(rt, missing)}",
                f"{rt} record is missing required field {field_en(rt, missing)}",
                rt,
            )
            for missing in error.validator_value
            if missing not in value
        ]
    if kind == "additionalProperties" and isinstance(value, Mapping):
        known = schema.get("properties", {})
        return [
            Problem(
                "schema.unknown_field",
                extra,
                f"{rt} 记录含有规范 1.0 未定义的字段 {extra};请删除该字段或改用规范字段名"
                f"(用 esup-spec show {rt} 查看允许的字段)",
                f"{rt} record has field {extra}, which spec 1.0 does not define for {rt}; "
                f"remove it or use the spec's field name (esup-spec show {rt} lists them)",
                rt,
            )
            for extra in value
            if extra not in known
        ]
    fz, fe = field_zh(rt, field), field_en(rt, field)
    if kind == "enum" and CODE_TABLE_KEYWORD in schema:
        table = code_table(schema[CODE_TABLE_KEYWORD])
        hint_zh = hint_en = ""
        if not isinstance(value, str) and str(value) in table.values:
            hint_zh = f';代码是字符串,请写成 "{value}"'
            hint_en = f'; codes are strings: write "{value}"'
        return [
            Problem(
                "schema.enum",
                path,
                f"字段 {fz} 的值 {shown(value)} 不是代码表 {table.name}({table.title})中的代码"
                f"{hint_zh};允许的代码:{codes_zh(table.name)}",
                f"field {fe} has value {shown(value)}, which is not a code of table "
                f"{table.name} ({table.description}){hint_en}; allowed codes: "
                f"{codes_en(table.name)}",
                rt,
            )
        ]
    if kind in ("const", "enum"):
        allowed = schema.get("const", schema.get("enum"))
        if field == "spec":
            return [spec_problem(value, rt)]
        return [
            Problem(
                "schema.const",
                path,
                f"字段 {fz} 的值 {shown(value)} 不对;必须为 {shown(allowed)}",
                f"field {fe} has value {shown(value)}; it must be {shown(allowed)}",
                rt,
            )
        ]
    if kind == "type":
        expected = str(error.validator_value)
        got = json_type(value)
        # NULL columns of legacy databases arrive as null: the fix is to leave the field out
        null_zh = ";没有值时请省略该字段,不要写 null" if value is None else ""
        null_en = (
            "; leave the field out when there is no value, do not send null"
            if (value is None)
            else ""
        )
        return [
            Problem(
                "schema.type",
                path,
                f"字段 {fz} 应为{JSON_TYPE_ZH.get(expected, expected)},"
                f"实际为{JSON_TYPE_ZH.get(got, got)} {shown(value)}{null_zh}",
                f"field {fe} must be of JSON type {expected}, got {got} {shown(value)}{null_en}",
                rt,
            )
        ]
    if kind == "pattern":
        form_zh, form_en = FORMS.get(
            str(schema.get(FORMAT_KEYWORD, "")),
            (f"符合格式 {error.validator_value}", f"matching {error.validator_value}"),
        )
        if field == "SBLSH":
            form_zh, form_en = "不含空白字符的编号", "a number without whitespace"
        return [
            Problem(
                "schema.format",
                path,
                f"字段 {fz} 的值 {shown(value)} 格式不对;应为{form_zh}",
                f"field {fe} has value {shown(value)} in the wrong form; expected {form_en}",
                rt,
            )
        ]
    if kind in ("minLength", "maxLength"):
        if kind == "minLength" and value == "":
            return [
                Problem(
                    "schema.length",
                    path,
                    f"字段 {fz} 不能是空字符串;没有值时请省略该字段",
                    f"field {fe} must not be an empty string; leave the field out when there "
                    "is no value",
                    rt,
                )
            ]
        length = len(value) if isinstance(value, str) else 0
        limit = error.validator_value
        word_zh, word_en = ("至少", "at least") if kind == "minLength" else ("最多", "at most")
        return [
            Problem(
                "schema.length",
                path,
                f"字段 {fz} 长度为 {length} 个字符,应{word_zh} {limit} 个",
                f"field {fe} is {length} characters long; it must be {word_en} {limit}",
                rt,
            )
        ]
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        limit = error.validator_value
        low = kind in ("minimum", "exclusiveMinimum")
        word_zh = ("不小于" if low else "不大于") if "exclusive" not in kind else ""
        if "exclusive" in kind:
            word_zh = "大于" if low else "小于"
        word_en = {
            "minimum": "at least",
            "maximum": "at most",
            "exclusiveMinimum": "greater than",
            "exclusiveMaximum": "less than",
        }[kind]
        return [
            Problem(
                "schema.range",
                path,
                f"字段 {fz} 的值 {shown(value)} 超出范围;应{word_zh} {limit}",
                f"field {fe} has value {shown(value)}; it must be {word_en} {limit}",
                rt,
            )
        ]
    return [
        Problem(
            "schema.invalid",
            path,
            f"字段 {fz} 不符合规范:{error.message}",
            f"field {fe} does not follow the spec: {error.message}",
            rt,
        )
    ]


def spec_problem(value: Any, rt: str) -> Problem:
    if value is None:
        return Problem(
            "schema.spec",
            "spec",
            '记录缺少规范版本字段 spec;请加上 "spec": "1.0"',
            'the record has no spec version; add "spec": "1.0"',
            rt,
        )
    return Problem(
        "schema.spec",
        "spec",
        f'规范版本 spec 的值 {shown(value)} 不受支持;本程序支持 "1.0"',
        f'spec version {shown(value)} is not supported; this release validates "1.0"',
        rt,
    )
