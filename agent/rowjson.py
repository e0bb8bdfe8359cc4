"""JSON text for legacy rows kept in quarantine, keeping their Python types.

A quarantined row is re-mapped later (``quarantine replay``), so it must come back with
the types the ODBC driver gave: datetimes, dates, decimals and bytes are tagged.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

_TAG = "$esup"


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_TAG: "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {_TAG: "date", "v": value.isoformat()}
    if isinstance(value, time):
        return {_TAG: "time", "v": value.isoformat()}
    if isinstance(value, Decimal):
        return {_TAG: "decimal", "v": str(value)}
    if isinstance(value, UUID):
        return {_TAG: "uuid", "v": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {_TAG: "bytes", "v": base64.b64encode(bytes(value)).decode("ascii")}
    raise TypeError(f"cannot store a {type(value).__name__} of a legacy row")


_DECODERS: dict[str, Callable[[str], Any]] = {
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
    "decimal": Decimal,
    "bytes": base64.b64decode,
    "uuid": UUID,
}


def _decode(obj: dict[str, Any]) -> Any:
    tag = obj.get(_TAG)
    if isinstance(tag, str) and tag in _DECODERS and set(obj) == {_TAG, "v"}:
        return _DECODERS[tag](obj["v"])
    return obj


def dumps(value: Any) -> str:
    return json.dumps(value, default=_encode, ensure_ascii=False, sort_keys=True)


def loads(text: str) -> Any:
    return json.loads(text, object_hook=_decode)
