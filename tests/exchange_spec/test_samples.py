"""The shipped samples: valid ones validate, each invalid one fails with exactly its code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from exchange_spec import RECORD_TYPES, validate_records
from exchange_spec.cli import main
from exchange_spec.rules import RULES
from exchange_spec.spec_docs import SCHEMA_PROBLEMS

from .conftest import SAMPLES, read_jsonl

VALID = sorted((SAMPLES / "valid").glob("*.jsonl"))
INVALID = sorted((SAMPLES / "invalid").glob("*.jsonl"))


def test_valid_samples_exist_where_the_demo_looks() -> None:
    # installer/demo.py globs exchange_spec/samples/valid/*.jsonl
    assert len(VALID) >= 3


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_sample_files_validate(path: Path) -> None:
    assert validate_records(read_jsonl(path)) == []


def test_valid_samples_cover_the_story(valid_records: list[dict[str, object]]) -> None:
    assert {r["type"] for r in valid_records} == set(RECORD_TYPES)
    departments = {r.get("BMMC") for r in valid_records if r.get("BMMC")}
    assert departments == {"常德市市场监督管理局", "常德市住房和城乡建设局"}
    assert all(r.get("XZQHDM", "430700") == "430700" for r in valid_records)
    assert any(r["type"] == "SL" and r["SLZTDM"] == "4" and r["BSLYY"] for r in valid_records)
    assert any(r["type"] == "BZGZ" for r in valid_records)
    assert {r["TBCXZL"] for r in valid_records if r["type"] == "TBCXSQ"} == {"A", "B"}
    assert any(r.get("SJBBH") == 2 for r in valid_records)


def test_every_problem_code_has_an_invalid_sample() -> None:
    expected = {code for code, _, _ in SCHEMA_PROBLEMS if code != "schema.invalid"}
    expected |= {rule.code for rule in RULES}
    assert {p.name.removesuffix(".jsonl") for p in INVALID} == expected


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_sample_fails_with_exactly_its_code(path: Path) -> None:
    code = path.name.removesuffix(".jsonl")
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(path)])
    assert result.exit_code == 1, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    problems = [line for line in lines if line["kind"] == "problem"]
    assert problems, f"{path.name} produced no problem"
    assert {p["code"] for p in problems} == {code}
    assert lines[-1]["kind"] == "summary" and lines[-1]["invalid"] == len(problems)
