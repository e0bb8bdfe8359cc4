"""The app as built by create_app: its OpenAPI document and health check."""

from __future__ import annotations

from dataclasses import replace

from fastapi.testclient import TestClient

from collector.app import create_app
from collector.settings import CollectorSettings


def test_the_openapi_document_describes_the_agent_api(
    settings: CollectorSettings, engine: object
) -> None:
    with TestClient(create_app(replace(settings, api_docs=True))) as client:
        paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/enrol", "/api/v1/batches", "/api/v1/heartbeat", "/api/v1/rotate"):
        assert "requestBody" in paths[path]["post"], path


def test_healthz_names_the_collector_key(client: TestClient) -> None:
    answer = client.get("/healthz").json()
    assert answer["status"] == "ok" and len(answer["collector_key_id"]) == 16
