"""What the exchange spec allows: field names, value kinds and codes per record type.

Asked of ``exchange_spec.schema_store`` (the shipped JSON Schemas, code tables inlined).
Where the package cannot answer (a schema missing from a partial install), the check it
would allow is skipped rather than guessed.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from exchange_spec.errors import SpecError
from exchange_spec.schema_store import resolved_schema


@cache
def schema_properties(record_type: str) -> dict[str, Any] | None:
    """The resolved schema properties of a record type, or None when there is no schema."""
    try:
        props = resolved_schema(record_type).get("properties")
    except (SpecError, OSError, KeyError):
        return None
    return props if isinstance(props, dict) and props else None


def field_schema(record_type: str, field: str) -> dict[str, Any]:
    prop = (schema_properties(record_type) or {}).get(field)
    return prop if isinstance(prop, dict) else {}


def allowed_codes(record_type: str, field: str) -> frozenset[str] | None:
    """Codes a coded field accepts (its enum), or None when the field is not coded."""
    enum = field_schema(record_type, field).get("enum")
    return frozenset(str(v) for v in enum) if isinstance(enum, list) else None


def has_field(record_type: str, field: str) -> bool | None:
    """Whether the spec knows ``field`` for ``record_type`` (None: no schema to ask)."""
    props = schema_properties(record_type)
    return None if props is None else field in props


def field_names(record_type: str) -> list[str]:
    return sorted(schema_properties(record_type) or {})


def value_kind(record_type: str, field: str) -> str | None:
    """The mapping ``type`` a field's schema implies: time, date, int, decimal or None."""
    schema = field_schema(record_type, field)
    fmt = schema.get("x-format")
    if fmt in ("time", "date"):
        return str(fmt)
    if schema.get("type") == "integer":
        return "int"
    if schema.get("type") == "number":
        return "decimal"
    return None
