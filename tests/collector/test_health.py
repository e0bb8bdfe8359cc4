"""Liveness (/healthz: the process answers) and readiness (/readyz: the store answers)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from collector.settings import CollectorSettings


def make_store_unreachable(client: TestClient, settings: CollectorSettings) -> None:
    """PostgreSQL: the database is dropped under the running app. SQLite: the file is moved
    away and the app's pooled connections closed."""
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    url = ctx.engine.url
    if url.get_backend_name() == "postgresql":
        with psycopg.connect(
            host=url.host, port=url.port, user=url.username, dbname="postgres", autocommit=True
        ) as admin:
            admin.execute(f'DROP DATABASE "{url.database}" WITH (FORCE)')
    else:
        db = Path(str(url.database))
        db.rename(db.with_name("moved-away.db"))
        ctx.engine.dispose()


def test_ready_while_the_store_answers(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"


def test_not_ready_with_a_reason_when_the_store_is_gone_but_still_alive(
    client: TestClient, settings: CollectorSettings
) -> None:
    make_store_unreachable(client, settings)
    response = client.get("/readyz")
    assert response.status_code == 503
    answer = response.json()
    assert answer["status"] == "unavailable"
    assert answer["error"] in ("store_unavailable", "store_migration_mismatch")
    assert answer["message_zh"] and answer["message_en"] and answer["hint"]
    # Liveness does not touch the store: the process is up, a restart would not help.
    assert client.get("/healthz").status_code == 200


def test_not_ready_when_the_store_is_at_another_migration(
    client: TestClient, engine: Engine
) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_newer'"))
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"] == "store_migration_mismatch"
    assert "9999_newer" in response.json()["message_en"]


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_postgresql_down_is_store_unavailable(
    client: TestClient, settings: CollectorSettings
) -> None:
    make_store_unreachable(client, settings)
    response = client.get("/readyz")
    answer = response.json()
    assert answer["error"] == "store_unavailable"
    assert "cannot be reached" in answer["message_en"]
    # An unauthenticated answer names no database host, user or database.
    database = settings.store_url.rsplit("/", 1)[1]
    assert database not in response.text and "127.0.0.1" not in response.text
