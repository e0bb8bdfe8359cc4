"""Validation of records against the spec (placeholder until the schemas land).

The real implementation compiles the JSON Schemas with fastjsonschema for the fast path
and explains failures with jsonschema plus the named rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .records import KEY_FIELDS, RECORD_TYPES, SPEC_VERSION


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one record, in words department IT understands."""

    code: str  # stable machine code: "schema.required", "rule.refusal_needs_reason", ...
    path: str  # field path inside the record, "" for the record as a whole
    message_zh: str
    message_en: str
    record_type: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "path": self.path,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "record_type": self.record_type,
        }


def validate_record(record: Mapping[str, Any]) -> list[Problem]:
    if not isinstance(record, Mapping):
        return [
            Problem("schema.type", "", "记录必须是 JSON 对象", "a record must be a JSON object")
        ]
    rtype = str(record.get("type", ""))
    if record.get("spec") != SPEC_VERSION:
        return [Problem("schema.spec", "spec", "规范版本必须为 1.0", "spec must be 1.0", rtype)]
    if rtype not in RECORD_TYPES:
        return [Problem("schema.type", "type", "未知记录类型", "unknown record type", rtype)]
    return [
        Problem("schema.required", f, f"缺少字段 {f}", f"missing field {f}", rtype)
        for f in KEY_FIELDS[rtype]
        if f not in record
    ]


def is_valid(record: Mapping[str, Any]) -> bool:
    return not validate_record(record)
