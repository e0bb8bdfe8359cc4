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


def test_0008_gives_cases_already_held_their_department_and_keeps_open_waits(
    settings: CollectorSettings,
) -> None:
    """A store from before case ownership: each case gets its SL's department, else the
    department of its first delivered record; an agent behind now gets an open wait."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    engine = make_engine(settings.resolved_store_url)
    at = datetime(2026, 11, 30, 8, tzinfo=UTC)
    try:
        upgrade(engine, "0007")
        with engine.begin() as conn:
            for code in ("DA", "DB"):
                conn.execute(
                    text("INSERT INTO departments (code, name) VALUES (:c, '')"), {"c": code}
                )
            conn.execute(
                text(
                    "INSERT INTO agents (agent_id, department, public_key, key_id, status, "
                    "enrolled_at, behind_since) "
                    "VALUES ('ag-1', 'DA', 'k', 'kid', 'active', :at, :at)"
                ),
                {"at": at},
            )
            rows = [  # (id, key, type, sblsh, department): A planted a BJ before B's SL
                (1, "BJ|X", "BJ", "X", "DA"),
                (2, "SL|X", "SL", "X", "DB"),
                (3, "SB|Y", "SB", "Y", "DB"),
                (4, "BJ|Y", "BJ", "Y", "DA"),
                (5, "SX|DA|I", "SX", None, "DA"),
            ]
            for vid, key, rtype, sblsh, dept in rows:
                values = {"id": vid, "k": key, "t": rtype, "s": sblsh, "d": dept, "at": at}
                conn.execute(
                    text(
                        "INSERT INTO record_versions (id, business_key, record_type, sblsh, sjbbh, "
                        "content_hash, body, department, received_at, source) VALUES "
                        "(:id, :k, :t, :s, 1, 'h', '{}', :d, :at, 'test')"
                    ),
                    values,
                )
                conn.execute(
                    text(
                        "INSERT INTO records_current (business_key, record_type, sblsh, sjbbh, "
                        "version_id, body, department, received_at) VALUES "
                        "(:k, :t, :s, 1, :id, '{}', :d, :at)"
                    ),
                    values,
                )
        upgrade(engine)
        with engine.connect() as conn:
            owners = conn.execute(text("SELECT sblsh, department FROM case_owners")).all()
            waits = conn.execute(text("SELECT agent_id, ended_at FROM backlog_waits")).all()
        assert sorted(map(tuple, owners)) == [("X", "DB"), ("Y", "DB")]
        assert [tuple(w) for w in waits] == [("ag-1", None)]
    finally:
        engine.dispose()
