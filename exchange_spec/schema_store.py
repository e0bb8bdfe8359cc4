"""Loading the spec's data files: JSON Schemas and code tables.

The files under ``schemas/<version>/`` and ``codes/`` are the one source of the spec.
A record schema refers to shared definitions in ``common.json`` with ``$ref`` and to a code
table with the keyword ``x-code-table``; :func:`resolved_schema` inlines both (the code
table becomes an ``enum``), so the schema handed to the validators is self-contained and the
fast (fastjsonschema) and explaining (jsonschema) validators see exactly the same thing.

Everything is loaded lazily and cached: importing the package reads no file.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .errors import SpecError, UnknownSpecVersion
from .records import RECORD_TYPES, SPEC_VERSION

#: Keywords of ours inside the schema files; validators ignore them.
CODE_TABLE_KEYWORD = "x-code-table"
FORMAT_KEYWORD = "x-format"


@dataclass(frozen=True)
class Code:
    """One entry of a code table (代码表)."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class CodeTable:
    """A dictionary of allowed codes for a coded field, with Chinese and English labels."""

    name: str
    title: str
    description: str
    codes: tuple[Code, ...]

    def label(self, code: str) -> Code | None:
        for entry in self.codes:
            if entry.code == code:
                return entry
        return None

    @property
    def values(self) -> list[str]:
        return [entry.code for entry in self.codes]


def _read_json(*parts: str) -> Any:
    node = resources.files("exchange_spec")
    for part in parts:
        node = node / part
    try:
        return json.loads(node.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SpecError(f"spec data file {'/'.join(parts)} is missing from the package") from exc
    except json.JSONDecodeError as exc:
        raise SpecError(f"spec data file {'/'.join(parts)} is not valid JSON: {exc}") from exc


@cache
def code_table_names() -> tuple[str, ...]:
    """Names of every code table shipped with the package, sorted."""
    folder = resources.files("exchange_spec") / "codes"
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json")))


@cache
def code_table(name: str) -> CodeTable:
    """The code table ``codes/<name>.json``."""
    raw = _read_json("codes", f"{name}.json")
    return CodeTable(
        name=raw["name"],
        title=raw["title"],
        description=raw["description"],
        codes=tuple(Code(str(c["code"]), c["zh"], c["en"]) for c in raw["codes"]),
    )


def _check_version(spec_version: str) -> None:
    if spec_version != SPEC_VERSION:
        raise UnknownSpecVersion(
            f"spec version {spec_version!r} is not carried by this release (it has {SPEC_VERSION})"
        )


@cache
def schema_file(name: str, spec_version: str = SPEC_VERSION) -> dict[str, Any]:
    """The schema file ``schemas/<version>/<name>.json`` exactly as written (refs unresolved)."""
    _check_version(spec_version)
    raw = _read_json("schemas", spec_version, f"{name}.json")
    if not isinstance(raw, dict):
        raise SpecError(f"schema {spec_version}/{name}.json is not a JSON object")
    return raw


def _pointer(document: dict[str, Any], pointer: str, where: str) -> dict[str, Any]:
    node: Any = document
    for part in pointer.lstrip("/").split("/") if pointer else []:
        if not isinstance(node, dict) or part not in node:
            raise SpecError(f"$ref {where} points to nothing")
        node = node[part]
    if not isinstance(node, dict):
        raise SpecError(f"$ref {where} does not point to a schema object")
    return node


def _resolve(node: Any, document: str, spec_version: str) -> Any:
    """Inline ``$ref`` and ``x-code-table`` recursively; sibling keywords override refs."""
    if isinstance(node, list):
        return [_resolve(item, document, spec_version) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        target_doc, _, pointer = ref.partition("#")
        target_name = target_doc[:-5] if target_doc.endswith(".json") else document
        target = _pointer(schema_file(target_name, spec_version), pointer, ref)
        out.update(_resolve(target, target_name, spec_version))
    for key, value in node.items():
        if key == "$ref":
            continue
        out[key] = _resolve(value, document, spec_version)
    table = out.get(CODE_TABLE_KEYWORD)
    if isinstance(table, str):
        out["enum"] = code_table(table).values
    return out


@cache
def _resolved(record_type: str, spec_version: str) -> dict[str, Any]:
    if record_type not in RECORD_TYPES:
        raise SpecError(
            f"unknown record type {record_type!r}; expected one of {', '.join(RECORD_TYPES)}"
        )
    schema = _resolve(schema_file(record_type, spec_version), record_type, spec_version)
    assert isinstance(schema, dict)
    return schema


def resolved_schema(record_type: str, spec_version: str = SPEC_VERSION) -> dict[str, Any]:
    """The self-contained JSON Schema of a record type: refs inlined, enums from code tables.

    Returns a fresh copy the caller may change.
    """
    return copy.deepcopy(_resolved(record_type, spec_version))


def field_title(record_type: str, field: str) -> str:
    """Chinese name of a field of a record type ("" when the type has no such field)."""
    prop = _resolved(record_type, SPEC_VERSION).get("properties", {}).get(field, {})
    return str(prop.get("title", ""))


def field_description(record_type: str, field: str) -> str:
    """English description of a field of a record type ("" when unknown)."""
    prop = _resolved(record_type, SPEC_VERSION).get("properties", {}).get(field, {})
    return str(prop.get("description", ""))


def field_schema(record_type: str, field: str) -> dict[str, Any]:
    """The resolved schema of one field (empty when the type has no such field)."""
    prop = _resolved(record_type, SPEC_VERSION).get("properties", {}).get(field, {})
    return dict(prop) if isinstance(prop, dict) else {}


def fields_with_format(record_type: str, fmt: str) -> tuple[str, ...]:
    """Fields of a record type whose shared definition has ``x-format`` ``fmt``."""
    props = _resolved(record_type, SPEC_VERSION).get("properties", {})
    return tuple(name for name, prop in props.items() if prop.get(FORMAT_KEYWORD) == fmt)
