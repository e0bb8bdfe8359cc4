"""Identity of records: record types, business keys and event times.

A case (办件) is a series of records keyed by SBLSH. Within a case, a record is identified
by its type and, for repeating records, its step or sequence number. Every resend or
correction of the same record carries a higher SJBBH; the highest wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SPEC_VERSION = "1.0"

#: Case records, in the order a case normally produces them.
CASE_TYPES = ("SB", "SL", "SPCL", "BZGZ", "BZSL", "TBCXSQ", "TBCXJG", "BJ", "LQDJ")
#: Catalogue and operational records.
OTHER_TYPES = ("SX", "SF", "SNAPSHOT", "HEARTBEAT", "RECON")
RECORD_TYPES = CASE_TYPES + OTHER_TYPES

#: Fields (besides the type) that identify one record; SJBBH is the version, not the key.
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "SB": ("SBLSH",),
    "SL": ("SBLSH",),
    "SPCL": ("SBLSH", "SPBZH"),
    "BZGZ": ("SBLSH", "XH"),
    "BZSL": ("SBLSH", "XH"),
    "TBCXSQ": ("SBLSH", "XH"),
    "TBCXJG": ("SBLSH", "XH"),
    "BJ": ("SBLSH",),
    "LQDJ": ("SBLSH",),
    "SX": ("BMBM", "SXBM"),
    "SF": ("BMBM", "SXBM", "SFXMBM"),
    "SNAPSHOT": ("CAMERA_ID", "TAKEN_AT"),
    "HEARTBEAT": ("AGENT_ID", "SENT_AT"),
    "RECON": ("BMBM", "RECORD_TYPE", "DAY"),
}

#: The field holding the moment the record describes (its event time).
TIME_FIELDS: dict[str, str | None] = {
    "SB": "SBSJ",
    "SL": "SLSJ",
    "SPCL": "SPSJ",
    "BZGZ": "BZGZSJ",
    "BZSL": "BZSJ",
    "TBCXSQ": "TBCXKSRQ",
    "TBCXJG": "TBCXJSRQ",
    "BJ": "BJSJ",
    "LQDJ": "LQSJ",
    "SX": None,
    "SF": None,
    "SNAPSHOT": "TAKEN_AT",
    "HEARTBEAT": "SENT_AT",
    "RECON": None,
}


def business_key(record: Mapping[str, Any]) -> str:
    """Return ``TYPE|k1|k2`` for a record: its identity across versions (SJBBH)."""
    rtype = str(record.get("type", ""))
    fields = KEY_FIELDS.get(rtype, ())
    return "|".join([rtype, *(str(record.get(f, "")) for f in fields)])


def version(record: Mapping[str, Any]) -> int:
    """The record's data version SJBBH (1 when the record type carries none)."""
    value = record.get("SJBBH", 1)
    if isinstance(value, float) and value.is_integer():
        return int(value)  # JSON Schema counts 2.0 as the integer 2; so does the version
    return value if isinstance(value, int) and not isinstance(value, bool) else 1


def event_time(record: Mapping[str, Any]) -> str | None:
    """The ISO time of the event the record describes, or None for catalogue records."""
    field = TIME_FIELDS.get(str(record.get("type", "")))
    value = record.get(field) if field else None
    return str(value) if value is not None else None
