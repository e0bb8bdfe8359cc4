"""Canonical form and content hash of a record.

The canonical form is RFC 8785 (JSON Canonicalization Scheme): keys sorted by UTF-16 code
units, no insignificant whitespace, numbers in their shortest ECMAScript form. The content
hash is SHA-256 over those bytes, as lowercase hex. The same record therefore hashes the
same whatever its key order or float formatting, on the agent and on the collector.

Records are flat objects of strings, integers, booleans and nulls. For those, RFC 8785 is
exactly what ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
writes (same escapes, same integer form, and code-point order equals UTF-16 order for keys
in the Basic Multilingual Plane), and that is many times faster than the general
implementation; anything else (floats, nesting, large integers) takes the general path.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import rfc8785

_SAFE_INT = 2**53 - 1  # beyond this, ECMAScript numbers lose integer precision
_dumps = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def _is_flat_simple(value: Any) -> bool:
    if type(value) is not dict:
        return False
    for key, item in value.items():
        if type(key) is not str or not key.isascii():
            return False
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is int and -_SAFE_INT <= item <= _SAFE_INT:
            continue
        return False
    return True


def canonical_bytes(value: Mapping[str, Any] | list[Any]) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value."""
    if _is_flat_simple(value):
        try:
            return _dumps(value).encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: let the general implementation report it
    return rfc8785.dumps(value)


def hash_canonical(data: bytes) -> str:
    """The content hash of bytes already in canonical form."""
    return hashlib.sha256(data).hexdigest()


def content_hash(record: Mapping[str, Any]) -> str:
    """Return the SHA-256 (hex) of the record's canonical form."""
    return hash_canonical(canonical_bytes(record))
