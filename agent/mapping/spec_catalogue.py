"""What the exchange spec allows: field names per record type and codes per code field.

Read from the files shipped in ``exchange_spec`` (``schemas/<version>/<TYPE>.json`` and
``codes/<NAME>.json``) when they are present; where a file is missing, the check it would
allow is skipped rather than guessed.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import exchange_spec
from exchange_spec.records import SPEC_VERSION

_ROOT = Path(exchange_spec.__file__).parent


def _properties(schema: Any, out: dict[str, Any]) -> None:
    """Collect ``properties`` from a schema, following allOf/anyOf/oneOf branches."""
    if not isinstance(schema, dict):
        return
    props = schema.get("properties")
    if isinstance(props, dict):
        out.update(props)
    for branch in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(branch) or []:
            _properties(sub, out)


@cache
def schema_properties(record_type: str) -> dict[str, Any] | None:
    """The schema's properties of a record type, or None when no schema is shipped."""
    path = _ROOT / "schemas" / SPEC_VERSION / f"{record_type}.json"
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    out: dict[str, Any] = {}
    _properties(schema, out)
    return out or None


@cache
def code_list(name: str) -> frozenset[str] | None:
    """The codes of a code list (e.g. SLZTDM), or None when the list is not shipped."""
    try:
        data = json.loads((_ROOT / "codes" / f"{name}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    codes = data.get("codes") if isinstance(data, dict) else None
    if not isinstance(codes, list):
        return None
    return frozenset(str(c["code"]) for c in codes if isinstance(c, dict) and "code" in c)


def allowed_codes(record_type: str, field: str) -> frozenset[str] | None:
    """Codes a field accepts: the enum in its schema, else the code list of its name."""
    props = schema_properties(record_type) or {}
    prop = props.get(field)
    if isinstance(prop, dict) and isinstance(prop.get("enum"), list):
        return frozenset(str(v) for v in prop["enum"])
    return code_list(field)


def has_field(record_type: str, field: str) -> bool | None:
    """Whether the spec knows ``field`` for ``record_type`` (None: no schema to ask)."""
    props = schema_properties(record_type)
    return None if props is None else field in props


def field_names(record_type: str) -> list[str]:
    return sorted(schema_properties(record_type) or {})
