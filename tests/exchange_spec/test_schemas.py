"""The schema files and code tables: well-formed, complete, one source for every enum."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from exchange_spec import RECORD_TYPES, validate_record
from exchange_spec.records import CASE_TYPES, KEY_FIELDS, TIME_FIELDS
from exchange_spec.schema_store import (
    CODE_TABLE_KEYWORD,
    code_table,
    code_table_names,
    resolved_schema,
    schema_file,
)

CASE_REQUIRED = {"spec", "type", "SBLSH", "SXBM", "BMBM", "XZQHDM", "SJBBH"}


def test_package_data_is_reachable() -> None:
    folder = resources.files("exchange_spec") / "schemas" / "1.0"
    names = {p.name for p in folder.iterdir()}
    assert {f"{t}.json" for t in RECORD_TYPES} | {"common.json"} == names


@pytest.mark.parametrize("rtype", RECORD_TYPES)
def test_schema_files_are_valid_2020_12(rtype: str) -> None:
    raw = schema_file(rtype)
    assert raw["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(raw)
    resolved = resolved_schema(rtype)
    Draft202012Validator.check_schema(resolved)
    assert resolved["additionalProperties"] is False
    assert "$ref" not in repr(resolved), "the resolved schema must be self-contained"


@pytest.mark.parametrize("rtype", RECORD_TYPES)
def test_every_field_has_chinese_and_english_names(rtype: str) -> None:
    for name, prop in resolved_schema(rtype)["properties"].items():
        title, description = prop.get("title", ""), prop.get("description", "")
        assert title and any("\u4e00" <= ch <= "\u9fff" for ch in title), (rtype, name)
        assert description and description.isascii(), (rtype, name)


@pytest.mark.parametrize("rtype", RECORD_TYPES)
def test_identity_fields_exist_and_are_required(rtype: str) -> None:
    schema = resolved_schema(rtype)
    required = set(schema["required"])
    for field in KEY_FIELDS[rtype]:
        assert field in schema["properties"] and field in required, field
    time_field = TIME_FIELDS[rtype]
    if time_field:
        assert time_field in required
        assert schema["properties"][time_field]["x-format"] == "time"
    if rtype in CASE_TYPES:
        assert required >= CASE_REQUIRED


def _coded_fields(rtype: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, prop)
        for name, prop in resolved_schema(rtype)["properties"].items()
        if CODE_TABLE_KEYWORD in prop
    ]


def test_enums_come_from_the_code_tables() -> None:
    used = set()
    for rtype in RECORD_TYPES:
        for name, prop in _coded_fields(rtype):
            table = code_table(prop[CODE_TABLE_KEYWORD])
            assert prop["enum"] == table.values, (rtype, name)
            used.add(table.name)
    assert used == set(code_table_names()), "every code table is used and every use exists"


def test_brief_code_tables_exist() -> None:
    for name in ("SLZTDM", "SPHJDM", "BJJGDM", "TBCXZL", "SQRLX", "SQRZJLX", "TJFS", "SXDW"):
        assert name in code_table_names()
    assert code_table("SXDW").values == ["G", "Z"]
    assert code_table("SXLX").values == ["1", "2", "3"]


@pytest.mark.parametrize("name", code_table_names())
def test_code_tables_are_well_formed(name: str) -> None:
    table = code_table(name)
    assert table.name == name and table.title and table.description
    assert len(set(table.values)) == len(table.values) > 0
    for entry in table.codes:
        assert entry.code and entry.zh and entry.en


@pytest.mark.parametrize("rtype", RECORD_TYPES)
def test_each_type_has_a_valid_sample(rtype: str, one_of_each: dict[str, dict[str, Any]]) -> None:
    assert rtype in one_of_each, f"samples/valid has no {rtype} record"
    assert validate_record(one_of_each[rtype]) == []


@pytest.mark.parametrize("rtype", RECORD_TYPES)
def test_each_type_rejects_a_missing_required_field(
    rtype: str, one_of_each: dict[str, dict[str, Any]]
) -> None:
    record = dict(one_of_each[rtype])
    own = [f for f in resolved_schema(rtype)["required"] if f not in ("spec", "type")]
    field = own[-1]
    del record[field]
    problems = validate_record(record)
    assert [(p.code, p.path, p.record_type) for p in problems] == [
        ("schema.required", field, rtype)
    ]
    assert field in problems[0].message_zh and field in problems[0].message_en


@pytest.mark.parametrize("rtype", [t for t in RECORD_TYPES if TIME_FIELDS[t]])
def test_times_need_an_offset(rtype: str, one_of_each: dict[str, dict[str, Any]]) -> None:
    record = dict(one_of_each[rtype])
    props = resolved_schema(rtype)["properties"]
    times = [f for f in record if props[f].get("x-format") == "time"]
    assert times
    for field in times:
        naive = dict(record, **{field: record[field][:19]})
        problems = validate_record(naive)
        assert [(p.code, p.path) for p in problems] == [("schema.format", field)]
        assert "2026-09-24T10:00:00+08:00" in problems[0].message_zh
