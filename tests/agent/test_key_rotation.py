"""The agent's enrolment and key rotation against the real collector app, in process, on a
SQLite and a PostgreSQL store: rotation proves the new key, an interrupted rotation finishes
when run again, enrolling again takes a fresh key, a wrong department leaves the token usable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from agent.enrol import NEXT_KEY_DIR, ROTATE_PATH, enrol, rotate_key
from agent.errors import EnrolError
from agent.heartbeat import send_heartbeat
from agent.signing import PRIVATE_KEY_FILE, AgentKeys
from agent.state import Outbox
from agent.transport import post_json
from collector.app import create_app
from collector.settings import CollectorSettings
from collector.store import enrolment as store
from collector.store.engine import make_engine
from collector.store.migrate import upgrade
from collector.store.timestamps import utc_now
from exchange_spec import protocol

DEPARTMENT = "114307020000000001"


@pytest.fixture(params=["sqlite", "postgresql"])
def collector(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, Any]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'collector.db'}"
    else:
        url = str(request.getfixturevalue("pg_database").sqlalchemy_url)
    settings = CollectorSettings(data_dir=tmp_path / "collector", store_url=url)
    engine = make_engine(url)
    upgrade(engine)
    with TestClient(create_app(settings)) as client:
        yield client, engine
    engine.dispose()


def token(engine: Engine, department: str = DEPARTMENT) -> str:
    with engine.begin() as conn:
        return store.create_token(conn, department, now=utc_now(), department_name="测试部门")


def pinned(engine: Engine, agent_id: str) -> str:
    with engine.connect() as conn:
        agent = store.get_agent(conn, agent_id)
    assert agent is not None
    return agent.key_id


def enrolled(tmp_path: Path, client: TestClient, engine: Engine) -> tuple[AgentKeys, str]:
    keys = AgentKeys(tmp_path / "state")
    return keys, enrol(client, keys, token=token(engine), department=DEPARTMENT).agent_id


def heartbeat_ok(tmp_path: Path, keys: AgentKeys, client: TestClient) -> None:
    with Outbox(tmp_path / "outbox.db") as outbox:
        send_heartbeat(outbox, keys, keys.require_enrolment(), client)
        assert outbox.link.clock_offset is not None  # from the signed ack


def test_rotate_key_moves_the_agent_to_a_new_key(
    tmp_path: Path, collector: tuple[TestClient, Engine]
) -> None:
    client, engine = collector
    keys, agent_id = enrolled(tmp_path, client, engine)
    old_key, old_id = keys.private_key, keys.key_id

    new_id = rotate_key(client, keys)
    assert new_id != old_id
    assert keys.key_id == new_id  # the key file was replaced, and is read again
    assert AgentKeys(tmp_path / "state").key_id == new_id
    assert not (tmp_path / "state" / NEXT_KEY_DIR).exists()
    assert pinned(engine, agent_id) == new_id
    heartbeat_ok(tmp_path, AgentKeys(tmp_path / "state"), client)

    # The old key signs nothing any more, not even a rotation back to it.
    manifest = protocol.rotate_manifest(agent_id, old_key)
    body = json.dumps({"manifest": manifest, "signature": protocol.sign(old_key, manifest)})
    headers = protocol.request_headers(old_key, agent_id, "POST", ROTATE_PATH, body.encode())
    refused = client.post(
        ROTATE_PATH, content=body, headers={"Content-Type": "application/json", **headers}
    )
    assert refused.status_code == 401 and refused.json()["error"] == "bad_signature"


def test_a_rotation_whose_answer_was_lost_is_finished_by_running_it_again(
    tmp_path: Path, collector: tuple[TestClient, Engine]
) -> None:
    client, engine = collector
    keys, agent_id = enrolled(tmp_path, client, engine)
    # The collector pins the pending key, but the agent never hears it (connection dropped).
    pending = AgentKeys(tmp_path / "state" / NEXT_KEY_DIR)
    manifest = protocol.rotate_manifest(agent_id, pending.private_key)
    post_json(
        client,
        ROTATE_PATH,
        {"manifest": manifest, "signature": keys.sign(manifest)},
        signing_key=keys.private_key,
    )
    assert pinned(engine, agent_id) == pending.key_id
    assert AgentKeys(tmp_path / "state").key_id != pending.key_id

    assert rotate_key(client, keys) == pending.key_id
    assert AgentKeys(tmp_path / "state").key_id == pending.key_id
    heartbeat_ok(tmp_path, AgentKeys(tmp_path / "state"), client)


def test_rotation_of_a_revoked_agent_changes_nothing(
    tmp_path: Path, collector: tuple[TestClient, Engine]
) -> None:
    client, engine = collector
    keys, agent_id = enrolled(tmp_path, client, engine)
    before = (tmp_path / "state" / PRIVATE_KEY_FILE).read_bytes()
    with engine.begin() as conn:
        store.revoke(conn, agent_id, "machine stolen", now=utc_now())
    with pytest.raises(EnrolError, match="agent_revoked"):
        rotate_key(client, keys)
    assert (tmp_path / "state" / PRIVATE_KEY_FILE).read_bytes() == before


def test_enrolling_again_from_the_same_state_directory_takes_a_fresh_key(
    tmp_path: Path, collector: tuple[TestClient, Engine]
) -> None:
    """No two agents share a key: the collector refuses the old key without using the token,
    and the agent enrols again with a new one; the old agent is replaced."""
    client, engine = collector
    keys = AgentKeys(tmp_path / "state")
    first = enrol(client, keys, token=token(engine), department=DEPARTMENT)
    first_key = keys.key_id
    second = enrol(client, keys, token=token(engine), department=DEPARTMENT)
    assert second.agent_id != first.agent_id
    assert keys.key_id != first_key
    assert pinned(engine, second.agent_id) == keys.key_id
    assert keys.require_enrolment().agent_id == second.agent_id
    with engine.connect() as conn:
        old = store.get_agent(conn, first.agent_id)
    assert old is not None and old.status == "revoked"
    heartbeat_ok(tmp_path, AgentKeys(tmp_path / "state"), client)


def test_a_token_for_another_department_stays_usable(
    tmp_path: Path, collector: tuple[TestClient, Engine]
) -> None:
    client, engine = collector
    issued = token(engine)
    keys = AgentKeys(tmp_path / "state")
    with pytest.raises(EnrolError, match="token was not used") as caught:
        enrol(client, keys, token=issued, department="114307020000000002")
    assert "令牌未被使用" in str(caught.value)
    assert keys.enrolment() is None
    assert enrol(client, keys, token=issued, department=DEPARTMENT).department == DEPARTMENT
