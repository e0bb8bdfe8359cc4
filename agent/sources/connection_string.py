"""ODBC connection strings read as the driver manager reads them, to show them safely.

``key=value`` pairs separated by ``;``. A value may be wrapped in braces, and then holds
``;`` and ``=`` freely; inside braces ``}}`` stands for one ``}`` (``Pwd={ab}}c;d}`` is the
password ``ab}c;d``). Reading braces naively (up to the first ``}``) would show the tail of
such a password in every message quoting the connection string.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

#: Keys whose values are never shown (compared case-insensitively).
SECRET_KEYS = frozenset({"pwd", "password", "authentication_password"})
HIDDEN = "***"


@dataclass(frozen=True)
class Attribute:
    key: str  # as written, stripped
    value: str  # braces removed and ``}}`` unescaped
    value_start: int  # just after the '=' (a hidden value is replaced from here ...
    value_end: int  # ... to here, exclusive)


def attributes(connection: str) -> Iterator[Attribute]:
    """Every ``key=value`` of a connection string, in order."""
    n = len(connection)
    i = 0
    while i < n:
        equals = connection.find("=", i)
        semicolon = connection.find(";", i)
        if equals == -1 or (semicolon != -1 and semicolon < equals):
            i = n if semicolon == -1 else semicolon + 1  # a part without '=': skipped
            continue
        key = connection[i:equals].strip()
        start = equals + 1
        while start < n and connection[start] in " \t":
            start += 1
        if start < n and connection[start] == "{":
            value, end = _braced(connection, start)
        else:
            end = connection.find(";", start)
            end = n if end == -1 else end
            value = connection[start:end].strip()
        yield Attribute(key, value, equals + 1, end)
        i = end + 1


def _braced(connection: str, start: int) -> tuple[str, int]:
    """The value of a braced part starting at ``start`` and where the part ends.

    A value that does not end cleanly (no closing brace, or text after it before the next
    ``;``) runs to the end of the string: a driver may read it in several ways, and each of
    them must stay hidden when the value is a password.
    """
    n = len(connection)
    chars: list[str] = []
    p = start + 1
    while p < n:
        c = connection[p]
        if c == "}":
            if p + 1 < n and connection[p + 1] == "}":
                chars.append("}")
                p += 2
                continue
            break
        chars.append(c)
        p += 1
    if p >= n:
        return "".join(chars), n  # never closed
    after = p + 1
    rest = connection.find(";", after)
    rest = n if rest == -1 else rest
    if connection[after:rest].strip():
        return "".join(chars), n  # text after the closing brace: malformed
    return "".join(chars), rest


def redact(connection: str) -> str:
    """The connection string with every password value replaced by ``***``."""
    out: list[str] = []
    shown = 0
    for attribute in attributes(connection):
        if attribute.key.lower() in SECRET_KEYS:
            out.append(connection[shown : attribute.value_start])
            out.append(HIDDEN)
            shown = attribute.value_end
    out.append(connection[shown:])
    return "".join(out)


def keys(connection: str) -> set[str]:
    """The keys a connection string sets, lower-cased."""
    return {a.key.lower() for a in attributes(connection)}


def value(connection: str, key: str) -> str | None:
    """The value of ``key`` (case-insensitive; the last one wins, as drivers read it)."""
    found = None
    for attribute in attributes(connection):
        if attribute.key.lower() == key.lower():
            found = attribute.value
    return found
