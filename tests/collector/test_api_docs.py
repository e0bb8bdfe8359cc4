"""/docs, /redoc and /openapi.json: off unless the settings say so, and when on, every file
they load comes from the collector itself (closed networks reach no CDN)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collector.app import create_app
from collector.settings import CollectorSettings, load_settings

PAGES = ("/docs", "/redoc", "/openapi.json")


@pytest.fixture
def docs_client(settings: CollectorSettings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(replace(settings, api_docs=True))) as client:
        yield client


def test_no_api_pages_by_default(client: TestClient) -> None:
    assert load_settings(env={}).api_docs is False
    for page in PAGES:
        assert client.get(page).status_code == 404, page


def test_the_setting_reads_as_a_boolean() -> None:
    assert load_settings(env={"ESUP_COLLECTOR_API_DOCS": "true"}).api_docs is True
    assert load_settings(env={"ESUP_COLLECTOR_API_DOCS": "off"}).api_docs is False


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_pages_load_only_files_the_collector_serves(docs_client: TestClient, page: str) -> None:
    html = docs_client.get(page)
    assert html.status_code == 200
    assert "http://" not in html.text and "https://" not in html.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html.text)
    assert assets, html.text
    for asset in assets:
        assert asset.startswith("/"), asset
        loaded = docs_client.get(asset)
        assert loaded.status_code == 200, asset
        assert len(loaded.content) > 1000, asset
    assert "/openapi.json" in html.text
    paths = docs_client.get("/openapi.json").json()["paths"]
    assert "X-Esup-Signature" in {p["name"] for p in paths["/api/v1/batches"]["post"]["parameters"]}
