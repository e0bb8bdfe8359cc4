"""One row per agent for operators: status, last heartbeat, lag, highest seq and gaps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from .enrolment import all_agents
from .gaps import highest_seqs, sequence_gaps


@dataclass(frozen=True)
class AgentOverview:
    agent_id: str
    department: str
    status: str
    hostname: str
    key_id: str
    last_heartbeat_at: datetime | None
    #: seconds since the last heartbeat (None: never heard from)
    heartbeat_age_seconds: float | None
    #: the agent's own report of its oldest undelivered record, in seconds
    oldest_pending_seconds: float | None
    outbox_pending: int | None
    clock_offset: float | None
    highest_seq: int | None
    gaps: list[list[int]]
    #: still sending a backlog since (the engine waits for its department meanwhile)
    behind_since: datetime | None = None
    backlog_records: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        for key in ("last_heartbeat_at", "behind_since"):
            value = getattr(self, key)
            out[key] = value.isoformat() if value else None
        return out


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def agents_overview(conn: Connection, *, now: datetime) -> list[AgentOverview]:
    highest = highest_seqs(conn)
    gaps = sequence_gaps(conn)
    out = []
    for agent in all_agents(conn):
        beat = agent.last_heartbeat or {}
        pending = beat.get("outbox_pending")
        out.append(
            AgentOverview(
                agent_id=agent.agent_id,
                department=agent.department,
                status=agent.status,
                hostname=agent.hostname,
                key_id=agent.key_id,
                last_heartbeat_at=agent.last_heartbeat_at,
                heartbeat_age_seconds=(
                    (now - agent.last_heartbeat_at).total_seconds()
                    if agent.last_heartbeat_at
                    else None
                ),
                oldest_pending_seconds=_number(beat.get("oldest_pending_seconds")),
                outbox_pending=pending if isinstance(pending, int) else None,
                clock_offset=agent.clock_offset,
                highest_seq=highest.get(agent.agent_id),
                gaps=gaps.get(agent.agent_id, []),
                behind_since=agent.behind_since,
                backlog_records=agent.backlog_records,
            )
        )
    return out
