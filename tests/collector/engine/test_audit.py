"""The audit log's hash chain verifies, refuses edits, and names the first altered entry."""

from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from collector.cli import main
from collector.engine import audit, exemptions
from collector.engine.calendar_store import current_calendar


def _entries(engine: Engine) -> None:
    current_calendar(engine)  # the seed is the first entry
    for n in range(3):
        exemptions.add(
            engine,
            sblsh=f"C-{n}",
            rule="*",
            reason="测试",
            approver="王局长",
            expires_on=date(2027, 1, 1),
            actor="李四",
            today=date(2026, 11, 30),
        )


def test_the_chain_verifies_and_edits_are_refused(engine: Engine) -> None:
    _entries(engine)
    report = audit.verify(engine)
    assert (report.entries, report.broken_at) == (4, None)
    with pytest.raises(DBAPIError, match="immutable"):
        with engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET actor = 'x'"))


def test_an_entry_altered_behind_the_collectors_back_is_named(
    engine: Engine, store_url: str
) -> None:
    _entries(engine)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
        third = conn.execute(text("SELECT id FROM audit_log ORDER BY id LIMIT 1 OFFSET 2")).scalar()
        conn.execute(text("UPDATE audit_log SET actor = '张三' WHERE id = :i"), {"i": third})
    report = audit.verify(engine)
    assert report.broken_at == third
    result = CliRunner().invoke(main, ["audit", "verify", "--store", store_url])
    assert result.exit_code == 1
    assert f"broken at entry {third}" in result.stderr
