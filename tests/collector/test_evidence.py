"""Nonces are remembered for the retention window and swept afterwards (both databases)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from collector.store import evidence
from collector.store.enrolment import create_token, enrol
from collector.store.timestamps import utc_now

from .conftest import public_raw


def test_a_nonce_is_claimed_once_and_swept_after_the_retention(engine: Engine) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    now = utc_now()
    with engine.begin() as conn:
        token = create_token(conn, "D1", now=now, department_name="部门 D1")
        agent = enrol(conn, token, public_raw(Ed25519PrivateKey.generate()), now=now)
        old = now - timedelta(hours=2)
        assert evidence.claim_nonce(conn, agent.agent_id, "a" * 32, now=old)
        assert evidence.claim_nonce(conn, agent.agent_id, "b" * 32, now=now)
        assert not evidence.claim_nonce(conn, agent.agent_id, "a" * 32, now=now)
    with engine.begin() as conn:
        evidence.forget_old_nonces(conn, now=now, retention_seconds=3600)
    with engine.begin() as conn:
        # The old nonce is forgotten (a replay of it is stale anyway), the recent one is not.
        assert evidence.claim_nonce(conn, agent.agent_id, "a" * 32, now=now)
        assert not evidence.claim_nonce(conn, agent.agent_id, "b" * 32, now=now)
