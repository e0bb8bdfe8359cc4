"""Canonical form and content hash of a record.

The canonical form is RFC 8785 (JSON Canonicalization Scheme): keys sorted by UTF-16 code
units, no insignificant whitespace, numbers in their shortest ECMAScript form. The content
hash is SHA-256 over those bytes, as lowercase hex. The same record therefore hashes the
same whatever its key order or float formatting, on the agent and on the collector.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785


def canonical_bytes(value: Mapping[str, Any] | list[Any]) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value."""
    return rfc8785.dumps(value)


def content_hash(record: Mapping[str, Any]) -> str:
    """Return the SHA-256 (hex) of the record's canonical form."""
    return hashlib.sha256(canonical_bytes(record)).hexdigest()
