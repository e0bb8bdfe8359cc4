"""How the spec names things to people: record types, fields and values, in Chinese and English.

Every message of the package is built from these names so that a department IT person sees
the pinyin code they know next to its Chinese name ("SLSJ(受理时间)") and an English reader
sees the same code with an English name ("SLSJ (acceptance time)").
"""

from __future__ import annotations

import json
from typing import Any

from .schema_store import code_table, field_description, field_title

#: Values a legacy system puts where it has nothing to say (compared stripped, lowercased).
PLACEHOLDERS = frozenset(
    {"无", "暂无", "没有", "空", "/", "\\", "-", "--", "—", "null", "none", "n/a", "na", "nil"}
)

JSON_TYPE_ZH = {
    "string": "字符串",
    "integer": "整数",
    "number": "数字",
    "object": "JSON 对象",
    "array": "数组",
    "boolean": "布尔值",
    "null": "空值 null",
}


def is_placeholder(value: Any) -> bool:
    """True when ``value`` is missing, empty or a placeholder such as "无" or "/"."""
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    text = value.strip()
    return not text or text.lower() in PLACEHOLDERS


def json_type(value: Any) -> str:
    """The JSON type name of a Python value as parsed from JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shown(value: Any, limit: int = 60) -> str:
    """A value as JSON, shortened for a message."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def type_zh(record_type: str) -> str:
    entry = code_table("JLLX").label(record_type)
    return entry.zh if entry else ""


def type_en(record_type: str) -> str:
    entry = code_table("JLLX").label(record_type)
    return entry.en if entry else ""


def _short_english(description: str) -> str:
    """First clause of an English description, lower-cased: "Acceptance time" -> ..."""
    text = description
    for stop in (" (", ";", ", ", ": "):
        text = text.split(stop, 1)[0]
    text = text.strip().rstrip(".")
    # "Acceptance time" -> "acceptance time", but "SHA-256 of ..." keeps its capitals
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def field_zh(record_type: str, field: str) -> str:
    """``SLSJ(受理时间)``, or the bare code when the field is unknown."""
    title = field_title(record_type, field)
    return f"{field}({title})" if title else field


def field_en(record_type: str, field: str) -> str:
    """``SLSJ (acceptance time)``, or the bare code when the field is unknown."""
    name = _short_english(field_description(record_type, field))
    return f"{field} ({name})" if name else field


def codes_zh(table: str) -> str:
    return "、".join(f"{c.code} {c.zh}" for c in code_table(table).codes)


def codes_en(table: str) -> str:
    return ", ".join(f"{c.code} {c.en}" for c in code_table(table).codes)
