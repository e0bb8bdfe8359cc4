"""Passwords never appear where the connection string is quoted, whatever they hold.

ODBC writes a value holding ``;``, ``=`` or braces as ``{...}`` with ``}}`` for ``}``; the
old redaction stopped at the first ``}`` and showed the rest of such a password.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.errors import SourceError
from agent.sources import OdbcSource, SourceSettings
from agent.sources.connection_string import attributes, redact, value

# Letters, digits, the characters ODBC treats specially, spaces and Chinese.
PASSWORD_CHARS = st.sampled_from([*"aZ09}{;= -!'\"\\", "密", "码", "\u3000"])
PASSWORDS = st.text(PASSWORD_CHARS, min_size=1, max_size=30)
KEYS = st.sampled_from(["Pwd", "PWD", "pwd", "Password", "PASSWORD", " Pwd "])


def braced(text: str) -> str:
    return "{" + text.replace("}", "}}") + "}"


def test_the_reported_leak_is_closed() -> None:
    connection = "Driver={MariaDB};Server=db;Uid=esup;Pwd={ab}}c;dS3cr3t-PW!};Database=x"
    assert redact(connection) == "Driver={MariaDB};Server=db;Uid=esup;Pwd=***;Database=x"
    assert value(connection, "pwd") == "ab}c;dS3cr3t-PW!"


@given(password=PASSWORDS, key=KEYS, where=st.sampled_from(["first", "middle", "last"]))
def test_a_braced_password_is_read_whole_and_never_shown(
    password: str, key: str, where: str
) -> None:
    part = f"{key}={braced(password)}"
    parts = {
        "first": [part, "Driver={MariaDB Unicode}", "Server=db.local"],
        "middle": ["Driver={MariaDB Unicode}", part, "Database=审批"],
        "last": ["Driver={MariaDB Unicode}", "Uid=esup", part],
    }[where]
    connection = ";".join(parts)
    found = [a.value for a in attributes(connection) if a.key.lower() == key.strip().lower()]
    assert found == [password]
    shown = redact(connection)
    assert shown == ";".join(p if p != part else f"{key}=***" for p in parts)


@given(password=st.text(st.sampled_from(list("aZ09 -!=密码")), min_size=1, max_size=20))
def test_a_plain_password_is_hidden_up_to_the_next_semicolon(password: str) -> None:
    connection = f"DSN=legacy;PWD={password};UID=esup"
    assert redact(connection) == "DSN=legacy;PWD=***;UID=esup"


@given(junk=st.text(st.sampled_from(list("ab};= 密")), max_size=15))
def test_a_malformed_braced_password_hides_everything_after_it(junk: str) -> None:
    # "{ab}" followed by more text: a driver may read the password several ways.
    connection = "Driver={SQLite3};Pwd={ab}" + "c" + junk + ";Database=x"
    assert redact(connection) == "Driver={SQLite3};Pwd=***"


def test_an_unclosed_brace_hides_the_rest() -> None:
    assert redact("DSN=x;Pwd={secret;Uid=u") == "DSN=x;Pwd=***"


def test_a_driver_error_quotes_the_connection_without_the_password(tmp_path: Path) -> None:
    connection = f"Driver={{SQLite 9}};Database={tmp_path / 'x.db'};Pwd={{ab}}}}c;dS3cr3t-PW!}}"
    with pytest.raises(SourceError) as caught:
        OdbcSource(SourceSettings(name="qyxx", connection=connection)).open()
    message = str(caught.value)
    assert "Pwd=***" in message
    assert "S3cr3t" not in message and "PW!" not in message
