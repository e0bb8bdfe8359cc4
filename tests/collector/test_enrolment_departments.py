"""One agent per department unless a token says otherwise, atomic enrolment, department codes
checked at token issue, and the agents' lifecycle in the audit chain; SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from collector.cli import main
from collector.engine import audit
from collector.errors import EnrolmentError
from collector.settings import CollectorSettings
from collector.store import enrolment
from collector.store.tables import agents, audit_log, departments, enrol_tokens
from collector.store.timestamps import utc_now
from exchange_spec import protocol

from .conftest import AgentSide, new_token, public_raw, sb
from .test_enrolment import audit_entries, enrol_together, rotate_envelope


def enrol_as(client: TestClient, token: str, key: Ed25519PrivateKey, department: str) -> Any:
    """What the agent sends: its key and the department its configuration names."""
    return client.post(
        "/api/v1/enrol",
        json={
            "token": token,
            "public_key": protocol.b64(public_raw(key)),
            "hostname": "front-end-2",
            "agent_version": "test",
            "department": department,
        },
    )


def counts(engine: Engine) -> tuple[int, int, int]:
    """Agents, used tokens and audit entries: what a refused enrolment must leave unchanged."""
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(agents)).scalar_one(),
            conn.execute(
                select(func.count())
                .select_from(enrol_tokens)
                .where(enrol_tokens.c.used_at.is_not(None))
            ).scalar_one(),
            conn.execute(select(func.count()).select_from(audit_log)).scalar_one(),
        )


def status_of(engine: Engine, agent_id: str) -> str:
    with engine.connect() as conn:
        agent = enrolment.get_agent(conn, agent_id)
    assert agent is not None
    return agent.status


def cli(settings: CollectorSettings, *args: str) -> tuple[int, str]:
    store = ["--store", settings.resolved_store_url, "--data-dir", str(settings.data_dir)]
    result = CliRunner().invoke(main, [*args, *store])
    return result.exit_code, result.output


# -- atomic enrolment --------------------------------------------------------------------------
def test_a_department_mismatch_consumes_nothing_and_creates_nothing(
    client: TestClient, engine: Engine
) -> None:
    token = new_token(engine, "D2")
    before = counts(engine)
    key = Ed25519PrivateKey.generate()
    refused = enrol_as(client, token, key, "D1")
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["error"] == "department_mismatch"
    assert "D2" in body["message_zh"] and "D1" in body["message_zh"]
    assert "still works" in body["message_en"]
    assert counts(engine) == before
    # The same token, from an agent configured for its department, still enrols.
    answer = enrol_as(client, token, key, "D2")
    assert answer.status_code == 200, answer.text
    assert answer.json()["department"] == "D2"


def test_an_enrolment_with_a_key_another_agent_holds_is_refused_and_revokes_nothing(
    client: TestClient, engine: Engine, agent: AgentSide
) -> None:
    """A cloned front-end machine enrols with the original's key: refused before the plain
    token's replacement could revoke the original, and the token stays usable."""
    token = new_token(engine)
    before = counts(engine)
    refused = enrol_as(client, token, agent.key, "D1")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "key_in_use"
    assert counts(engine) == before
    assert status_of(engine, agent.agent_id) == "active"
    agent.verified_receipt(agent.send([(1, sb("C1"))]))
    assert enrol_as(client, token, Ed25519PrivateKey.generate(), "D1").status_code == 200


def test_two_enrolments_racing_with_one_key_pin_it_once(engine: Engine) -> None:
    shared = public_raw(Ed25519PrivateKey.generate())
    tokens = [new_token(engine, "D1"), new_token(engine, "D2")]
    results = enrol_together(engine, [(token, shared) for token in tokens])
    assert sorted(r.startswith("ag-") for r in results) == [False, True]
    assert "key_in_use" in results


# -- one agent per department ------------------------------------------------------------------
def test_a_plain_token_replaces_the_departments_agent_on_enrolment(
    client: TestClient, engine: Engine, agent: AgentSide
) -> None:
    """A re-installed front-end machine enrols anew: the old agent is revoked, not left active
    (and silent) next to it; other departments' agents are untouched."""
    other = AgentSide(client)
    assert other.enrol(new_token(engine, "D2")).status_code == 200
    agent.verified_receipt(agent.send([(1, sb("C1"))]))

    successor = AgentSide(client)
    answer = successor.enrol(new_token(engine))
    assert answer.status_code == 200, answer.text
    assert answer.json()["replaced_agents"] == [agent.agent_id]
    assert status_of(engine, agent.agent_id) == "revoked"
    assert status_of(engine, other.agent_id) == "active"
    refused = agent.send([(2, sb("C2"))])
    assert refused.status_code == 403
    assert refused.json()["error"] == "agent_revoked"
    assert f"replaced by {successor.agent_id}" in refused.json()["message_en"]
    successor.verified_receipt(successor.send([(1, sb("C2"))]))

    [enrolled] = [
        e
        for e in audit_entries(engine, audit.AGENT_ENROL)
        if e.subject == f"agent:{successor.agent_id}"
    ]
    assert enrolled.details["replaces"] == [agent.agent_id]
    [revoked] = audit_entries(engine, audit.AGENT_REVOKE)
    assert revoked.subject == f"agent:{agent.agent_id}"
    assert revoked.actor == f"agent:{successor.agent_id}"


def test_an_additional_agent_token_keeps_the_first_agent_active(
    client: TestClient, engine: Engine, agent: AgentSide
) -> None:
    with engine.begin() as conn:
        token = enrolment.create_token(conn, "D1", now=utc_now(), additional_agent=True)
    second = AgentSide(client)
    answer = second.enrol(token)
    assert answer.status_code == 200, answer.text
    assert answer.json()["replaced_agents"] == []
    assert status_of(engine, agent.agent_id) == "active"
    agent.verified_receipt(agent.send([(1, sb("C1"))]))
    second.verified_receipt(second.send([(1, sb("C2"))]))


def test_the_token_command_says_which_agent_the_enrolment_will_revoke(
    settings: CollectorSettings, agent: AgentSide
) -> None:
    code, out = cli(settings, "agents", "token", "--department", "D1")
    assert code == 0, out
    assert agent.agent_id in out and "revoked when the new agent enrols" in out
    code, out = cli(settings, "agents", "token", "--department", "D1", "--additional-agent")
    assert code == 0, out
    assert agent.agent_id in out and "stays active" in out


# -- department codes --------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["", "市场监管局", "D 1", "D1;drop", "x" * 65, "D1\n"])
def test_a_malformed_department_code_issues_no_token(
    settings: CollectorSettings, engine: Engine, code: str
) -> None:
    with engine.begin() as conn, pytest.raises(EnrolmentError) as caught:
        enrolment.create_token(conn, code, now=utc_now(), department_name="某部门")
    assert caught.value.code == "bad_department"
    assert caught.value.status == 400
    assert "BMBM" in caught.value.message_en
    exit_code, out = cli(settings, "agents", "token", "--department", code, "--name", "某部门")
    assert exit_code == 1
    assert "is not a department code" in out and "格式不正确" in out
    assert counts(engine) == (0, 0, 0)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(enrol_tokens)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(departments)).scalar_one() == 0


def test_an_unknown_department_needs_its_name_and_a_name_of_its_own(
    settings: CollectorSettings, engine: Engine
) -> None:
    code, out = cli(settings, "agents", "token", "--department", "11430700MB1234567X")
    assert code == 1
    assert "knows no department 11430700MB1234567X" in out and "--name" in out
    code, out = cli(
        settings, "agents", "token", "--department", "11430700MB1234567X", "--name", "市场监管局"
    )
    assert code == 0, out
    # Known now: no name needed. A mistyped code with the same name is caught.
    code, out = cli(settings, "agents", "token", "--department", "11430700MB1234567X")
    assert code == 0, out
    code, out = cli(
        settings, "agents", "token", "--department", "11430700MB1234576X", "--name", "市场监管局"
    )
    assert code == 1
    assert "already belongs to department 11430700MB1234567X" in out
    with engine.connect() as conn:
        codes = conn.execute(select(departments.c.code)).scalars().all()
    assert codes == ["11430700MB1234567X"]


# -- audit ---------------------------------------------------------------------------------------
def test_token_enrolment_rotation_and_revocation_are_in_the_audit_chain(
    settings: CollectorSettings, client: TestClient, engine: Engine
) -> None:
    code, out = cli(
        settings, "agents", "token", "--department", "D5", "--name", "五部门", "--created-by", "王"
    )
    assert code == 0, out
    token = out.split("token:", 1)[1].split()[0]
    side = AgentSide(client)
    assert side.enrol(token).status_code == 200
    new_key = Ed25519PrivateKey.generate()
    assert side.post("/api/v1/rotate", rotate_envelope(side, new_key, side.key)).status_code == 200
    code, out = cli(
        settings, "agents", "revoke", side.agent_id, "--reason", "机器报废", "--by", "李"
    )
    assert code == 0, out

    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).all()
    assert [(r.action, r.actor, r.subject) for r in rows] == [
        (audit.AGENT_TOKEN, "王", "department:D5"),
        (audit.AGENT_ENROL, f"agent:{side.agent_id}", f"agent:{side.agent_id}"),
        (audit.AGENT_ROTATE, f"agent:{side.agent_id}", f"agent:{side.agent_id}"),
        (audit.AGENT_REVOKE, "李", f"agent:{side.agent_id}"),
    ]
    assert rows[0].details["department_name"] == "五部门"
    assert rows[1].details["department"] == "D5"
    assert rows[1].details["token"] == rows[0].details["token"]
    assert rows[3].details["reason"] == "机器报废"
    # Never the token, its hash or a private key.
    written = json.dumps([dict(r._mapping) for r in rows], default=str, ensure_ascii=False)
    secret = new_key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    for forbidden in (token, enrolment.token_hash(token), protocol.b64(secret), secret.hex()):
        assert forbidden not in written
    assert audit.verify(engine).broken_at is None

    code, out = cli(settings, "agents", "revoke", side.agent_id, "--reason", "again")
    assert code == 1 and "already revoked" in out
    assert len(audit_entries(engine, audit.AGENT_REVOKE)) == 1
