"""Shared fixtures: throwaway databases on the real PostgreSQL and MariaDB servers.

Both servers run on 127.0.0.1 on development and CI machines. A test that needs one and
cannot reach it fails with a message saying how to start it; it never skips.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import settings

# CI replays the same examples on every run, so a landing is judged on the code, not on the
# luck of the draw; developers' runs keep exploring new examples (and may find new bugs).
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

PG_HOST = os.environ.get("ESUP_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("ESUP_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("ESUP_TEST_PG_USER", "postgres")
MARIADB_HOST = os.environ.get("ESUP_TEST_MARIADB_HOST", "127.0.0.1")
MARIADB_PORT = int(os.environ.get("ESUP_TEST_MARIADB_PORT", "3306"))
MARIADB_USER = os.environ.get("ESUP_TEST_MARIADB_USER", "root")


@dataclass(frozen=True)
class Database:
    """A throwaway database: how to reach it through SQLAlchemy, psycopg and ODBC."""

    kind: str  # "postgresql" | "mariadb"
    host: str
    port: int
    user: str
    name: str

    @property
    def sqlalchemy_url(self) -> str:
        if self.kind == "postgresql":
            return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{self.name}"
        return f"mysql+pyodbc://{self.user}@{self.host}:{self.port}/{self.name}"

    @property
    def odbc(self) -> str:
        if self.kind == "postgresql":
            return (
                f"Driver={{PostgreSQL Unicode}};Server={self.host};Port={self.port};"
                f"Database={self.name};Uid={self.user};Pwd=;"
            )
        return (
            f"Driver={{MariaDB Unicode}};Server={self.host};Port={self.port};"
            f"Database={self.name};Uid={self.user};Pwd=;"
        )


def _pg_admin():  # type: ignore[no-untyped-def]
    import psycopg

    try:
        return psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="test", autocommit=True
        )
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable on {PG_HOST}:{PG_PORT} as {PG_USER} ({exc}). "
            "Start it with: pg_ctlcluster --skip-systemctl-redirect "
            "$(ls /etc/postgresql) main start"
        )


def _mariadb_admin():  # type: ignore[no-untyped-def]
    import pyodbc

    try:
        return pyodbc.connect(
            f"Driver={{MariaDB Unicode}};Server={MARIADB_HOST};Port={MARIADB_PORT};"
            f"Uid={MARIADB_USER};Pwd=;",
            autocommit=True,
        )
    except pyodbc.Error as exc:
        pytest.fail(
            f"MariaDB is not reachable on {MARIADB_HOST}:{MARIADB_PORT} as {MARIADB_USER} "
            f"({exc}). Start it with: start-stop-daemon --start --oknodo --background "
            "--exec /usr/sbin/mariadbd"
        )


@pytest.fixture
def pg_database() -> Iterator[Database]:
    """A fresh, empty PostgreSQL database, dropped after the test."""
    name = f"esup_t_{secrets.token_hex(6)}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Database("postgresql", PG_HOST, PG_PORT, PG_USER, name)
    finally:
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def mariadb_database() -> Iterator[Database]:
    """A fresh, empty MariaDB database (utf8mb4 by default), dropped after the test."""
    name = f"esup_t_{secrets.token_hex(6)}"
    conn = _mariadb_admin()
    try:
        conn.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield Database("mariadb", MARIADB_HOST, MARIADB_PORT, MARIADB_USER, name)
    finally:
        conn.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()
