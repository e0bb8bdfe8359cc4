"""Enrolment tokens, agents and their keys: issue, consume, pin, rotate, revoke."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from exchange_spec import protocol

from ..errors import EnrolmentError
from .tables import agent_keys, agents, departments, enrol_tokens
from .timestamps import as_utc


@dataclass(frozen=True)
class Agent:
    agent_id: str
    department: str
    public_key: bytes
    key_id: str
    status: str
    enrolled_at: datetime
    hostname: str
    version: str
    last_heartbeat_at: datetime | None
    last_heartbeat: dict[str, Any] | None
    clock_offset: float | None
    revoked_at: datetime | None = None
    revoked_reason: str | None = None
    #: records still to send by the agent's last batch or heartbeat; behind since when
    backlog_records: int | None = None
    behind_since: datetime | None = None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def ensure_department(conn: Connection, code: str, name: str = "") -> None:
    """Create the department when unknown; update its name when one is given."""
    found = conn.execute(select(departments.c.name).where(departments.c.code == code)).first()
    if found is None:
        conn.execute(insert(departments).values(code=code, name=name))
    elif name and found.name != name:
        conn.execute(update(departments).where(departments.c.code == code).values(name=name))


def create_token(
    conn: Connection,
    department: str,
    *,
    now: datetime,
    expires_hours: float = 24,
    department_name: str = "",
    created_by: str = "",
) -> str:
    """Issue a one-time enrolment token for ``department``; only its hash is stored."""
    ensure_department(conn, department, department_name)
    token = secrets.token_urlsafe(24)
    conn.execute(
        insert(enrol_tokens).values(
            token_hash=token_hash(token),
            department=department,
            created_at=now,
            expires_at=now + timedelta(hours=expires_hours),
            created_by=created_by[:100],
        )
    )
    return token


def _why_token_fails(conn: Connection, hashed: str, now: datetime) -> EnrolmentError:
    row = conn.execute(select(enrol_tokens).where(enrol_tokens.c.token_hash == hashed)).first()
    hint = (
        "ask the supervision bureau for a new token: esup-collector agents token --department CODE"
    )
    if row is None:
        return EnrolmentError(
            "token_unknown", "注册令牌无效", "the enrolment token is not known", hint
        )
    if row.used_at is not None:
        return EnrolmentError(
            "token_used",
            "注册令牌已被使用（每个令牌只能使用一次）",
            "the enrolment token was already used (a token works once)",
            hint,
        )
    expires = as_utc(row.expires_at)
    return EnrolmentError(
        "token_expired",
        f"注册令牌已于 {expires} 过期",
        f"the enrolment token expired at {expires}",
        hint,
    )


def enrol(
    conn: Connection,
    token: str,
    public_key: bytes,
    *,
    now: datetime,
    hostname: str = "",
    agent_version: str = "",
) -> Agent:
    """Consume ``token`` (once, even when raced) and pin ``public_key`` to its department."""
    hashed = token_hash(token)
    agent_id = "ag-" + secrets.token_hex(8)
    # The conditional UPDATE is the lock: of two concurrent requests only one gets a row back.
    result = conn.execute(
        update(enrol_tokens)
        .where(
            enrol_tokens.c.token_hash == hashed,
            enrol_tokens.c.used_at.is_(None),
            enrol_tokens.c.expires_at > now,
        )
        .values(used_at=now, used_by_agent=agent_id)
        .returning(enrol_tokens.c.department)
    ).first()
    if result is None:
        raise _why_token_fails(conn, hashed, now)
    department = str(result.department)
    kid = protocol.key_id(public_key)
    b64 = protocol.b64(public_key)
    conn.execute(
        insert(agents).values(
            agent_id=agent_id,
            department=department,
            public_key=b64,
            key_id=kid,
            status="active",
            enrolled_at=now,
            hostname=hostname[:255],
            version=agent_version[:64],
        )
    )
    conn.execute(
        insert(agent_keys).values(agent_id=agent_id, public_key=b64, key_id=kid, valid_from=now)
    )
    agent = get_agent(conn, agent_id)
    assert agent is not None
    return agent


def _agent(row: Any) -> Agent:
    return Agent(
        agent_id=row.agent_id,
        department=row.department,
        public_key=protocol.unb64(row.public_key, "stored public key"),
        key_id=row.key_id,
        status=row.status,
        enrolled_at=as_utc(row.enrolled_at) or row.enrolled_at,
        hostname=row.hostname,
        version=row.version,
        last_heartbeat_at=as_utc(row.last_heartbeat_at),
        last_heartbeat=row.last_heartbeat,
        clock_offset=row.clock_offset,
        revoked_at=as_utc(row.revoked_at),
        revoked_reason=row.revoked_reason,
        backlog_records=row.backlog_records,
        behind_since=as_utc(row.behind_since),
    )


def get_agent(conn: Connection, agent_id: str) -> Agent | None:
    row = conn.execute(select(agents).where(agents.c.agent_id == agent_id)).first()
    return _agent(row) if row is not None else None


def all_agents(conn: Connection) -> list[Agent]:
    rows = conn.execute(select(agents).order_by(agents.c.department, agents.c.agent_id))
    return [_agent(r) for r in rows]


def require_agent(conn: Connection, agent_id: str) -> Agent:
    agent = get_agent(conn, agent_id)
    if agent is None:
        raise EnrolmentError(
            "unknown_agent",
            f"采集端 {agent_id} 未注册",
            f"agent {agent_id} is not enrolled",
            "enrol the agent with a token: esup-agent enrol",
            status=401,
        )
    return agent


def rotate_key(conn: Connection, agent_id: str, new_public_key: bytes, *, now: datetime) -> str:
    """Pin a new key for ``agent_id``; the old one stays in history and is refused from now on."""
    kid = protocol.key_id(new_public_key)
    b64 = protocol.b64(new_public_key)
    conn.execute(
        update(agent_keys)
        .where(agent_keys.c.agent_id == agent_id, agent_keys.c.valid_until.is_(None))
        .values(valid_until=now)
    )
    conn.execute(
        insert(agent_keys).values(agent_id=agent_id, public_key=b64, key_id=kid, valid_from=now)
    )
    conn.execute(
        update(agents)
        .where(agents.c.agent_id == agent_id)
        .values(public_key=b64, key_id=kid, rotated_at=now)
    )
    return kid


def revoke(conn: Connection, agent_id: str, reason: str, *, now: datetime) -> Agent:
    """Revoke an agent: every envelope it sends afterwards is refused (403 agent_revoked)."""
    require_agent(conn, agent_id)
    conn.execute(
        update(agents)
        .where(agents.c.agent_id == agent_id)
        .values(status="revoked", revoked_at=now, revoked_reason=reason)
    )
    conn.execute(
        update(agent_keys)
        .where(agent_keys.c.agent_id == agent_id, agent_keys.c.valid_until.is_(None))
        .values(valid_until=now)
    )
    agent = get_agent(conn, agent_id)
    assert agent is not None
    return agent


def record_heartbeat(
    conn: Connection,
    agent_id: str,
    heartbeat: dict[str, Any],
    *,
    now: datetime,
    clock_offset: float,
) -> None:
    conn.execute(
        update(agents)
        .where(agents.c.agent_id == agent_id)
        .values(last_heartbeat_at=now, last_heartbeat=heartbeat, clock_offset=clock_offset)
    )
