"""What the agent may tell the collector about itself: nothing of the legacy rows.

Excluded rows (secret-level items) never leave the machine, and neither may their keys in
anything else the agent sends. Two things the heartbeat carries would otherwise carry them:

- a table's cursor is the change time *and key* of the last row read, which may be a row
  the mapping then excluded: the heartbeat says only the time;
- error texts may quote values of a row (drivers quote the value they could not convert)
  and the connection string: the heartbeat sends them with quoted text, numbers that may be
  keys, and the connection details removed. ``esup-agent status`` shows them whole.
"""

from __future__ import annotations

import re
from typing import Any

#: What stands for a removed value.
REMOVED = "…"
# The parenthesis our source errors end with: connection string and the driver's own text.
_DETAILS = re.compile(r"\s*\((?:connection|driver said):.*$", re.DOTALL)
# Quoted text: '...', "...", `...`, and the Chinese quotation marks.
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`|“[^”]*”|‘[^’]*’|「[^」]*」|『[^』]*』")
# Words; one holding four digits or more may be a case number, a row id, an ID number.
_WORD = re.compile(r"[\w\-./:]+")
DIGITS_SHOWN = 3


def public_cursors(cursors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each table's read position as a time (never a key), and when it last moved."""
    out = []
    for c in cursors:
        position = c.get("cursor") or {}
        out.append(
            {
                "source": c.get("source"),
                "table": c.get("table"),
                "read_up_to": position.get("ts") or position.get("snapshot_at"),
                "updated_at": c.get("updated_at"),
            }
        )
    return out


def public_error(message: str) -> str:
    """An error text without what may come from a row or the connection string."""
    text = _DETAILS.sub(" (details: run esup-agent status on the agent machine)", message)
    text = _QUOTED.sub(REMOVED, text)
    return _WORD.sub(_numbered, text)


def _numbered(match: re.Match[str]) -> str:
    word = match.group(0)
    return REMOVED if sum(c.isdigit() for c in word) > DIGITS_SHOWN else word


def public_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**e, "message": public_error(str(e.get("message", "")))} for e in errors]
