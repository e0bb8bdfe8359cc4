"""Migrations run from code on both databases; the app refuses a store that is behind."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from collector.app import create_app
from collector.errors import StoreError
from collector.settings import CollectorSettings
from collector.store.engine import make_engine
from collector.store.migrate import current_revision, head_revision, upgrade
from collector.store.tables import metadata


def test_upgrade_creates_every_table_and_is_idempotent(settings: CollectorSettings) -> None:
    engine = make_engine(settings.resolved_store_url)
    try:
        upgrade(engine)
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_app_refuses_a_store_that_is_not_migrated(settings: CollectorSettings) -> None:
    with pytest.raises(StoreError, match="esup-collector db upgrade"):
        create_app(settings)


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/x.db")
    try:
        with engine.begin() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        engine.dispose()


def test_the_migrations_match_the_tables_module(settings: CollectorSettings) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(settings.resolved_store_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == [], f"tables.py and the migrations disagree; add a migration: {diff}"
    finally:
        engine.dispose()
