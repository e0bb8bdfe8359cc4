"""Which rules file is active: the store records each distinct rules text it has run with."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, select

from collector.engine import audit
from collector.engine.rules_file import EngineRules
from collector.store.tables import rule_versions
from collector.store.timestamps import utc_now


def active_version(conn: Connection) -> str | None:
    return conn.execute(
        select(rule_versions.c.version).order_by(rule_versions.c.id.desc()).limit(1)
    ).scalar()


def activate(engine: Engine, rules: EngineRules, *, actor: str = "engine") -> bool:
    """Record ``rules`` as the active version when it differs; True when it changed."""
    with engine.begin() as conn:
        latest = conn.execute(
            select(rule_versions.c.content_hash).order_by(rule_versions.c.id.desc()).limit(1)
        ).scalar()
        if latest == rules.content_hash:
            return False
        now = utc_now()
        conn.execute(
            rule_versions.insert().values(
                version=rules.version,
                content_hash=rules.content_hash,
                source=rules.source,
                text=rules.text,
                activated_at=now,
            )
        )
        audit.append(
            conn,
            at=now,
            actor=actor,
            action="rules.activate",
            subject=f"rules:{rules.version}",
            details={"source": rules.source, "content_hash": rules.content_hash},
        )
        return True
