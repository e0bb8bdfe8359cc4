"""Enrolment tokens, agents and their keys: issue, consume, pin, rotate, revoke.

Every step is in the audit chain (collector.engine.audit). A department has one active agent
unless a token says otherwise: enrolling with a plain token revokes the department's active
agents (the machine was re-installed or replaced), a token issued with ``additional_agent``
adds a second one. No two agents, active or revoked, ever hold the same public key.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, text, update

from exchange_spec import protocol
from exchange_spec.schema_store import field_schema

from ..engine import audit
from ..errors import EnrolmentError
from .tables import agent_keys, agents, backlog_waits, departments, enrol_tokens
from .timestamps import as_utc, beijing_minute


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


_ASK_AGAIN = "ask the supervision bureau for a new token: esup-collector agents token"
#: Serialises key pinning on PostgreSQL, so two enrolments or rotations racing with one public
#: key cannot both pass the uniqueness check (SQLite's write lock already serialises them).
_PG_KEYS_LOCK = 0x45534B59


@dataclass(frozen=True)
class Enrolled(Agent):
    """A newly enrolled agent, with the department's agents its enrolment revoked."""

    replaced: tuple[str, ...] = ()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def department_code_problem(code: str) -> str | None:
    """Why ``code`` is not a department code (BMBM) as the spec defines it; None if it is."""
    import jsonschema

    schema = field_schema("SX", "BMBM")
    pattern = str(schema.get("pattern", ""))
    # fullmatch: a JSON Schema pattern ending in $ also lets a trailing newline through
    if jsonschema.Draft202012Validator(schema).is_valid(code) and (
        not pattern or re.fullmatch(pattern, code)
    ):
        return None
    return (
        f"{code!r} is not a department code: the spec's BMBM is {schema.get('minLength', 1)}"
        f"..{schema.get('maxLength', 64)} characters matching {pattern}"
    )


def ensure_department(conn: Connection, code: str, name: str = "") -> None:
    """Create the department when unknown; update its name when one is given."""
    found = conn.execute(select(departments.c.name).where(departments.c.code == code)).first()
    if found is None:
        conn.execute(insert(departments).values(code=code, name=name))
    elif name and found.name != name:
        conn.execute(update(departments).where(departments.c.code == code).values(name=name))


def _check_token_department(conn: Connection, code: str, name: str) -> None:
    """A token is issued for a well-formed department that the collector knows, or that the
    operator adds on purpose by giving its name (a mistyped code must not become a department)."""
    problem = department_code_problem(code)
    if problem is not None:
        raise EnrolmentError(
            "bad_department",
            f"部门编码 {code!r} 格式不正确（应为 1–64 位字母、数字、点、下划线或连字符）",
            problem,
            "use the department's code (BMBM) exactly as in its records, e.g. 11430700MB1234567X",
            status=400,
        )
    known = conn.execute(select(departments.c.name).where(departments.c.code == code)).first()
    if known is not None:
        return
    if not name:
        raise EnrolmentError(
            "unknown_department",
            f"采集中心没有部门 {code}；请核对编码，新增部门时请用 --name 给出部门名称",
            f"the collector knows no department {code}; check the code, or give the "
            "department's name with --name to add it",
            "esup-collector agents token --department CODE --name 部门名称",
            status=400,
        )
    owner = conn.execute(select(departments.c.code).where(departments.c.name == name)).scalar()
    if owner is not None:
        raise EnrolmentError(
            "department_name_taken",
            f"部门名称“{name}”已属于部门 {owner}，编码 {code} 是否输错？",
            f"the name {name!r} already belongs to department {owner}; is {code} mistyped?",
            f"issue the token for {owner}, or give the new department its own name",
            status=400,
        )


def create_token(
    conn: Connection,
    department: str,
    *,
    now: datetime,
    expires_hours: float = 24,
    department_name: str = "",
    created_by: str = "",
    additional_agent: bool = False,
) -> str:
    """Issue a one-time enrolment token for ``department``; only its hash is stored.

    The agent enrolled with it replaces the department's active agents, unless
    ``additional_agent`` says it runs next to them."""
    _check_token_department(conn, department, department_name)
    ensure_department(conn, department, department_name)
    token = secrets.token_urlsafe(24)
    expires_at = now + timedelta(hours=expires_hours)
    token_id = conn.execute(
        insert(enrol_tokens)
        .values(
            token_hash=token_hash(token),
            department=department,
            created_at=now,
            expires_at=expires_at,
            created_by=created_by[:100],
            additional_agent=additional_agent,
        )
        .returning(enrol_tokens.c.id)
    ).scalar_one()
    audit.append(
        conn,
        at=now,
        actor=created_by[:100] or "operator",
        action=audit.AGENT_TOKEN,
        subject=f"department:{department}",
        details={
            "token": int(token_id),
            "department": department,
            "department_name": department_name,
            "expires_at": expires_at.isoformat(),
            "additional_agent": additional_agent,
        },
    )
    return token


def active_agents(conn: Connection, department: str) -> list[Agent]:
    """The department's active agents: the ones a plain token's enrolment will replace."""
    rows = conn.execute(
        select(agents)
        .where(agents.c.department == department, agents.c.status == "active")
        .order_by(agents.c.agent_id)
    )
    return [_agent(r) for r in rows]


def _why_token_fails(conn: Connection, hashed: str, now: datetime) -> EnrolmentError:
    row = conn.execute(select(enrol_tokens).where(enrol_tokens.c.token_hash == hashed)).first()
    if row is None:
        return EnrolmentError(
            "token_unknown", "注册令牌无效", "the enrolment token is not known", _ASK_AGAIN
        )
    if row.used_at is not None:
        return EnrolmentError(
            "token_used",
            "注册令牌已被使用（每个令牌只能使用一次）",
            "the enrolment token was already used (a token works once)",
            _ASK_AGAIN,
        )
    expires = as_utc(row.expires_at)
    return EnrolmentError(
        "token_expired",
        f"注册令牌已于 {expires} 过期",
        f"the enrolment token expired at {expires}",
        _ASK_AGAIN,
    )


def _claim_key(conn: Connection, public_key: bytes, agent_id: str) -> None:
    """Refuse a public key that any agent, active or revoked, holds or held."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_KEYS_LOCK})
    b64 = protocol.b64(public_key)
    holder = (
        conn.execute(
            select(agent_keys.c.agent_id).where(agent_keys.c.public_key == b64).limit(1)
        ).scalar()
        or conn.execute(
            select(agents.c.agent_id).where(agents.c.public_key == b64).limit(1)
        ).scalar()
    )
    if holder is None:
        return
    mine = holder == agent_id
    raise EnrolmentError(
        "key_in_use",
        "该公钥已登记过"
        + ("（本采集端以前用过）" if mine else "（属于另一个采集端）")
        + "，每个采集端必须使用自己新生成的密钥",
        f"this public key ({protocol.key_id(public_key)}) is already pinned to "
        + ("this agent before" if mine else "another agent")
        + "; every agent needs a key of its own, used once",
        "a copied state directory or a cloned machine? move agent_key.pem away and enrol "
        "again, or rotate to a freshly generated key: esup-agent rotate-key",
        status=409,
    )


def enrol(
    conn: Connection,
    token: str,
    public_key: bytes,
    *,
    now: datetime,
    hostname: str = "",
    agent_version: str = "",
    department: str | None = None,
) -> Enrolled:
    """Consume ``token`` (once, even when raced) and pin ``public_key`` to its department.

    ``department`` is the one the agent is configured for; when it differs from the token's the
    enrolment is refused. A refused enrolment consumes nothing and creates nothing: every check
    comes before the token is marked used, in the caller's one transaction."""
    hashed = token_hash(token)
    row = conn.execute(
        select(enrol_tokens).where(
            enrol_tokens.c.token_hash == hashed,
            enrol_tokens.c.used_at.is_(None),
            enrol_tokens.c.expires_at > now,
        )
    ).first()
    if row is None:
        raise _why_token_fails(conn, hashed, now)
    token_department = str(row.department)
    if department is not None and department != token_department:
        raise EnrolmentError(
            "department_mismatch",
            f"令牌属于部门 {token_department}，而采集端配置的部门是 {department}；"
            "令牌未被使用，仍然有效",
            f"the token was issued for department {token_department} but the agent is "
            f"configured for {department}; the token was not used and still works",
            "correct agent.department in agent.toml, or ask for a token for this department",
            status=409,
        )
    agent_id = "ag-" + secrets.token_hex(8)
    _claim_key(conn, public_key, agent_id)
    # The conditional UPDATE is the lock: of two concurrent requests only one gets a row back.
    claimed = conn.execute(
        update(enrol_tokens)
        .where(enrol_tokens.c.id == row.id, enrol_tokens.c.used_at.is_(None))
        .values(used_at=now, used_by_agent=agent_id)
        .returning(enrol_tokens.c.id)
    ).first()
    if claimed is None:
        raise _why_token_fails(conn, hashed, now)
    replaced = [] if row.additional_agent else active_agents(conn, token_department)
    kid = protocol.key_id(public_key)
    b64 = protocol.b64(public_key)
    conn.execute(
        insert(agents).values(
            agent_id=agent_id,
            department=token_department,
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
    actor = f"agent:{agent_id}"
    _audit(
        conn,
        now,
        actor,
        audit.AGENT_ENROL,
        agent_id,
        {
            "department": token_department,
            "key_id": kid,
            "hostname": hostname[:255],
            "agent_version": agent_version[:64],
            "token": int(row.id),
            "token_issued_by": row.created_by,
            "additional_agent": bool(row.additional_agent),
            "replaces": [a.agent_id for a in replaced],
        },
    )
    for old in replaced:
        _revoke(
            conn,
            old,
            f"replaced by {agent_id} (enrolled from {hostname or 'an unnamed host'}) / "
            f"已由新注册的采集端 {agent_id} 取代",
            now=now,
            actor=actor,
        )
    agent = get_agent(conn, agent_id)
    assert agent is not None
    return Enrolled(**vars(agent), replaced=tuple(a.agent_id for a in replaced))


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
    """Pin a new key for ``agent_id``; the old one stays in history and is refused from now on.

    The caller has checked that the agent holds the new key (protocol.verify_rotate_proof).
    Rotating to the key already pinned is a no-op, so an agent that lost the answer can ask
    again with its new key."""
    kid = protocol.key_id(new_public_key)
    current = require_agent(conn, agent_id)
    if current.public_key == new_public_key:
        return kid
    _claim_key(conn, new_public_key, agent_id)
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
    _audit(
        conn,
        now,
        f"agent:{agent_id}",
        audit.AGENT_ROTATE,
        agent_id,
        {"department": current.department, "old_key_id": current.key_id, "key_id": kid},
    )
    return kid


def revoke(
    conn: Connection, agent_id: str, reason: str, *, now: datetime, actor: str = "operator"
) -> Agent:
    """Revoke an agent: every envelope it sends afterwards is refused (403 agent_revoked)."""
    agent = require_agent(conn, agent_id)
    if agent.status != "active":
        raise EnrolmentError(
            "already_revoked",
            f"采集端 {agent_id} 已于 {beijing_minute(agent.revoked_at)} 被吊销"
            f"（{agent.revoked_reason}）",
            f"agent {agent_id} was already revoked at {beijing_minute(agent.revoked_at)} Beijing "
            f"time ({agent.revoked_reason})",
            "nothing to do; esup-collector agents list shows every agent's status",
            status=409,
        )
    return _revoke(conn, agent, reason, now=now, actor=actor)


def _revoke(conn: Connection, agent: Agent, reason: str, *, now: datetime, actor: str) -> Agent:
    conn.execute(
        update(agents)
        .where(agents.c.agent_id == agent.agent_id)
        .values(status="revoked", revoked_at=now, revoked_reason=reason)
    )
    conn.execute(
        update(agent_keys)
        .where(agent_keys.c.agent_id == agent.agent_id, agent_keys.c.valid_until.is_(None))
        .values(valid_until=now)
    )
    # Its open catch-up wait ends here and stays counted against the department's budget:
    # re-enrolling (which revokes the old agent) must not bring back a full grace window.
    conn.execute(
        update(backlog_waits)
        .where(backlog_waits.c.agent_id == agent.agent_id, backlog_waits.c.ended_at.is_(None))
        .values(ended_at=now)
    )
    _audit(
        conn,
        now,
        actor,
        audit.AGENT_REVOKE,
        agent.agent_id,
        {"department": agent.department, "key_id": agent.key_id, "reason": reason},
    )
    revoked = get_agent(conn, agent.agent_id)
    assert revoked is not None
    return revoked


def _audit(
    conn: Connection,
    now: datetime,
    actor: str,
    action: str,
    agent_id: str,
    details: dict[str, Any],
) -> None:
    audit.append(
        conn, at=now, actor=actor, action=action, subject=f"agent:{agent_id}", details=details
    )


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
