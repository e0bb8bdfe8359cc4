"""Run the Alembic migrations from code (no alembic.ini needed).

``esup-collector serve`` and ``esup-collector db upgrade`` call :func:`upgrade`;
:func:`collector.app.create_app` only checks with :func:`check_current` and refuses to start on
a store that is behind, naming the command that fixes it.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works: it serialises concurrent upgrades from several collector processes.
_PG_LOCK_ID = 0x45535550


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the store at {engine.url!r}: {exc}") from exc


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the store to ``revision``; safe when several processes start at once."""
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})
            command.upgrade(alembic_config(conn), revision)
    except SQLAlchemyError as exc:
        raise StoreError(f"migrating the store at {engine.url!r} failed: {exc}") from exc


def check_current(engine: Engine) -> None:
    """Raise StoreError unless the store is at the newest migration."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise StoreError(
            f"the store at {engine.url!r} is at migration {current or 'none'}, this collector "
            f"needs {head}; run: esup-collector db upgrade --store URL "
            "(esup-collector serve does this itself)"
        )
