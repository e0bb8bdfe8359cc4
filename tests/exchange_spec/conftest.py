"""Fixtures of the spec tests: the shipped sample records."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path(str(resources.files("exchange_spec") / "samples"))


def read_jsonl(path: Path) -> list[Any]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


@pytest.fixture(scope="session")
def valid_records() -> list[dict[str, Any]]:
    """Every record of samples/valid, in file order."""
    records: list[dict[str, Any]] = []
    for path in sorted((SAMPLES / "valid").glob("*.jsonl")):
        records.extend(read_jsonl(path))
    return records


@pytest.fixture(scope="session")
def one_of_each(valid_records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The first valid sample record of each record type."""
    out: dict[str, dict[str, Any]] = {}
    for record in valid_records:
        out.setdefault(record["type"], record)
    return out
