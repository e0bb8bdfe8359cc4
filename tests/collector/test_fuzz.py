"""Fuzzing the agent API from its own OpenAPI document (schemathesis): no request, signed by an
enrolled agent or not, gets a 5xx from any route, on SQLite and PostgreSQL.

Each generated request is sent twice: as generated (its signature headers are whatever the
generator made up) and signed for real by an enrolled agent, so the bodies reach the envelope
checks behind the door too.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy import Engine

from collector.app import create_app
from collector.settings import CollectorSettings
from exchange_spec import protocol

from .conftest import AgentSide, new_token


@pytest.fixture
def docs_client(settings: CollectorSettings, engine: Engine) -> Any:
    with TestClient(create_app(replace(settings, api_docs=True))) as client:
        yield client


@pytest.fixture
def fuzzed_agent(docs_client: TestClient, engine: Engine) -> AgentSide:
    side = AgentSide(docs_client)
    assert side.enrol(new_token(engine)).status_code == 200
    return side


def _body_bytes(case: Any) -> bytes:
    body = getattr(case, "body", None)
    if body is None or type(body).__name__ == "NotSet":
        return b""
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def _send(agent: AgentSide, case: Any) -> None:
    client = agent.client
    path = case.formatted_path
    if case.method.upper() == "GET":
        case.validate_response(client.get(path), checks=[not_a_server_error])
        return
    content = _body_bytes(case)
    generated = {str(k): str(v) for k, v in (case.headers or {}).items()}
    signed = protocol.request_headers(agent.key, agent.agent_id, "POST", path, content)
    for headers in (generated, signed):
        response = client.post(
            path, content=content, headers={"Content-Type": "application/json", **headers}
        )
        assert response.status_code < 500, (path, headers, content[:300], response.text)
        case.validate_response(response, checks=[not_a_server_error])


def test_no_route_answers_a_server_error(docs_client: TestClient, fuzzed_agent: AgentSide) -> None:
    # schemathesis.pytest.from_fixture does not run on pytest 9 yet: the operations'
    # strategies are drawn with hypothesis directly, which is what it does inside.
    schema = schemathesis.openapi.from_dict(docs_client.get("/openapi.json").json())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {
        "POST /api/v1/enrol",
        "POST /api/v1/batches",
        "POST /api/v1/heartbeat",
        "POST /api/v1/rotate",
        "GET /readyz",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=60,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def fuzz(case: Any) -> None:
            _send(fuzzed_agent, case)

        fuzz()
