"""Declarative mapping of legacy rows to spec records (a TOML file, not code)."""

from __future__ import annotations

from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class MapResult:
    """What became of one legacy row."""

    status: str  # "ok" | "excluded" | "invalid"
    record: dict[str, Any] | None
    problems: list[dict[str, str]] = field(default_factory=list)
    reason: str = ""


class Mapping:
    """Interface placeholder: the implementation lands in the next commit."""

    @classmethod
    def load(cls, path: str | Path, *, hmac_key: bytes) -> Mapping:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, hmac_key: bytes, where: str = "mapping") -> Mapping:
        raise NotImplementedError

    def record_types(self) -> list[str]:
        raise NotImplementedError

    def map_row(self, record_type: str, row: AnyMapping[str, Any]) -> MapResult:
        raise NotImplementedError
