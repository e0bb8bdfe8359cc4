"""Problem: one thing wrong with one record (re-exported by exchange_spec.validate)."""

from __future__ import annotations

from dataclasses import dataclass


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
