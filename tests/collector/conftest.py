"""Fixtures of the collector tests: a store on SQLite AND PostgreSQL, the in-process app, and an
agent side built only from exchange_spec.protocol and cryptography (never agent/)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from collector.app import create_app
from collector.settings import CollectorSettings
from collector.store.engine import make_engine
from collector.store.enrolment import create_token
from collector.store.migrate import upgrade
from collector.store.timestamps import utc_now
from exchange_spec import content_hash, protocol

DEPARTMENT = "D1"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'collector.db'}"
    return str(request.getfixturevalue("pg_database").sqlalchemy_url)


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> CollectorSettings:
    return CollectorSettings(data_dir=tmp_path / "data", store_url=store_url)


@pytest.fixture
def engine(settings: CollectorSettings) -> Iterator[Engine]:
    eng = make_engine(settings.resolved_store_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def client(settings: CollectorSettings, engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def new_token(engine: Engine, department: str = DEPARTMENT, hours: float = 24) -> str:
    with engine.begin() as conn:
        name = f"部门 {department}"
        return create_token(
            conn, department, now=utc_now(), expires_hours=hours, department_name=name
        )


def sb(sblsh: str, sjbbh: int = 1, department: str = DEPARTMENT, **extra: Any) -> dict[str, Any]:
    """A valid 申办 (SB) record."""
    record: dict[str, Any] = {
        "spec": "1.0",
        "type": "SB",
        "SBLSH": sblsh,
        "SXBM": "000123",
        "BMBM": department,
        "XZQHDM": "430700",
        "SJBBH": sjbbh,
        "SQRLX": "1",
        "SQRMC": "张三",
        "SBSJ": "2026-11-30T09:00:00+08:00",
    }
    record.update(extra)
    return record


def public_raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass
class AgentSide:
    """What a real agent does on the wire, from the protocol module alone."""

    client: TestClient
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    agent_id: str = ""
    department: str = ""
    collector_key: bytes = b""

    def enrol(self, token: str) -> Any:
        response = self.client.post(
            "/api/v1/enrol",
            json={
                "token": token,
                "public_key": protocol.b64(public_raw(self.key)),
                "hostname": "front-end-1",
                "agent_version": "test",
            },
        )
        if response.status_code == 200:
            answer = response.json()
            self.agent_id = answer["agent_id"]
            self.department = answer["department"]
            self.collector_key = protocol.unb64(answer["collector_public_key"], "key")
            assert protocol.key_id(self.collector_key) == answer["collector_key_id"]
        return response

    def batch(
        self,
        records: list[tuple[int, Any]],
        *,
        created_at: str | None = None,
        nonce: str | None = None,
        key: Ed25519PrivateKey | None = None,
        backlog: protocol.Backlog | None = None,
    ) -> dict[str, Any]:
        items = [(seq, content_hash(rec)) for seq, rec in records]
        manifest = protocol.batch_manifest(
            self.agent_id, items, created_at=created_at, nonce=nonce, backlog=backlog
        )
        return {
            "manifest": manifest,
            "signature": protocol.sign(key or self.key, manifest),
            "records": [{"seq": seq, "record": rec} for seq, rec in records],
        }

    def post(self, path: str, envelope: Any, *, compress: bool = False, key: Any = None) -> Any:
        body = json.dumps(envelope, ensure_ascii=False).encode("utf-8")
        return self.post_bytes(
            path, gzip.compress(body) if compress else body, compress=compress, key=key
        )

    def post_bytes(
        self, path: str, body: bytes, *, compress: bool = False, key: Any = None, **headers: str
    ) -> Any:
        """POST ``body`` as sent, with the request signature headers of this agent (signed
        with ``key``, by default the agent's current key)."""
        encoding = "gzip" if compress else "identity"
        sent = {"Content-Type": "application/json", "Content-Encoding": encoding}
        signer = key if key is not None else self.key
        sent.update(
            protocol.request_headers(signer, self.agent_id, "POST", path, body, encoding=encoding)
        )
        sent.update(headers)
        return self.client.post(path, content=body, headers=sent)

    def send(self, records: list[tuple[int, Any]], **kwargs: Any) -> Any:
        return self.post("/api/v1/batches", self.batch(records, **kwargs))

    def verified_receipt(self, response: Any) -> dict[str, Any]:
        assert response.status_code == 200, response.text
        answer = response.json()
        protocol.verify(self.collector_key, answer["receipt"], answer["signature"])
        return dict(answer["receipt"])

    def heartbeat(self, body: dict[str, Any], **extra: Any) -> Any:
        manifest = protocol.body_manifest(
            "heartbeat", self.agent_id, protocol.frame_hash(body), **extra
        )
        envelope = {
            "manifest": manifest,
            "signature": protocol.sign(self.key, manifest),
            "heartbeat": body,
        }
        return self.post("/api/v1/heartbeat", envelope)


@pytest.fixture
def agent(client: TestClient, engine: Engine) -> AgentSide:
    side = AgentSide(client)
    response = side.enrol(new_token(engine))
    assert response.status_code == 200, response.text
    return side
