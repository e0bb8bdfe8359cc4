"""Calendar, rule versions, case clocks, verdicts, reassessment proposals, exemptions, audit.

Verdicts and the audit log are append-only: a trigger refuses UPDATE on both (a withdrawal is
a row in verdict_withdrawals, never an edit of the verdict).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_APPEND_ONLY = ("verdicts", "audit_log")
_TABLES = (
    "verdict_withdrawals",
    "reassessment_proposals",
    "verdicts",
    "calendar_days",
    "calendar_versions",
    "rule_versions",
    "case_clocks",
    "exemptions",
    "audit_log",
    "engine_locks",
    "engine_state",
)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "calendar_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("parent", sa.Integer(), nullable=True),
        sa.Column("content_hash", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_calendar_versions")),
    )
    op.create_table(
        "case_clocks",
        sa.Column("sblsh", sa.Text(), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("promised_deadline", sa.Date(), nullable=True),
        sa.Column("legal_deadline", sa.Date(), nullable=True),
        sa.Column("warning_on", sa.Date(), nullable=True),
        sa.Column("workdays_used", sa.Integer(), nullable=False),
        sa.Column("provisional", sa.Boolean(), nullable=False),
        sa.Column("calendar_version", sa.Integer(), nullable=False),
        sa.Column("rule_version", sa.String(length=200), nullable=False),
        sa.Column("clock", sa.JSON(), nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recheck_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("sblsh", name=op.f("pk_case_clocks")),
    )
    op.create_index(op.f("ix_case_clocks_department"), "case_clocks", ["department"], unique=False)
    op.create_index(op.f("ix_case_clocks_state"), "case_clocks", ["state"], unique=False)
    op.create_index(op.f("ix_case_clocks_recheck_on"), "case_clocks", ["recheck_on"], unique=False)
    op.create_table(
        "engine_locks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_engine_locks")),
    )
    op.create_table(
        "engine_state",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_engine_state")),
    )
    op.create_table(
        "exemptions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("sblsh", sa.Text(), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("approver", sa.String(length=100), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exemptions")),
    )
    op.create_index(op.f("ix_exemptions_sblsh"), "exemptions", ["sblsh"], unique=False)
    op.create_table(
        "rule_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_versions")),
    )
    op.create_table(
        "verdicts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("sblsh", sa.Text(), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("dedup_key", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due", sa.JSON(), nullable=False),
        sa.Column("calendar_version", sa.Integer(), nullable=False),
        sa.Column("rule_version", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verdicts")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_verdicts_dedup_key")),
        sa.UniqueConstraint("sblsh", "rule", "level", name=op.f("uq_verdicts_sblsh_rule_level")),
    )
    op.create_index(op.f("ix_verdicts_department"), "verdicts", ["department"], unique=False)
    op.create_table(
        "calendar_days",
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_workday", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version"],
            ["calendar_versions.version"],
            name=op.f("fk_calendar_days_version_calendar_versions"),
        ),
        sa.PrimaryKeyConstraint("version", "day", name=op.f("pk_calendar_days")),
    )
    op.create_table(
        "reassessment_proposals",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "verdict_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("calendar_version", sa.Integer(), nullable=False),
        sa.Column("rule_version", sa.String(length=200), nullable=False),
        sa.Column("old_basis", sa.JSON(), nullable=False),
        sa.Column("new_basis", sa.JSON(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["verdict_id"],
            ["verdicts.id"],
            name=op.f("fk_reassessment_proposals_verdict_id_verdicts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reassessment_proposals")),
        sa.UniqueConstraint(
            "verdict_id",
            "calendar_version",
            "rule_version",
            name=op.f("uq_reassessment_proposals_verdict_id_calendar_version_rule_version"),
        ),
    )
    op.create_index(
        op.f("ix_reassessment_proposals_verdict_id"),
        "reassessment_proposals",
        ["verdict_id"],
        unique=False,
    )
    op.create_table(
        "verdict_withdrawals",
        sa.Column(
            "verdict_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "proposal_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["reassessment_proposals.id"],
            name=op.f("fk_verdict_withdrawals_proposal_id_reassessment_proposals"),
        ),
        sa.ForeignKeyConstraint(
            ["verdict_id"], ["verdicts.id"], name=op.f("fk_verdict_withdrawals_verdict_id_verdicts")
        ),
        sa.PrimaryKeyConstraint("verdict_id", name=op.f("pk_verdict_withdrawals")),
    )
    _append_only_triggers()


def _append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for table in _APPEND_ONLY:
        if dialect == "sqlite":
            op.execute(
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} rows are immutable'); END"
            )
        elif dialect == "postgresql":
            op.execute(
                f"CREATE FUNCTION {table}_no_update() RETURNS trigger LANGUAGE plpgsql AS $$ "
                f"BEGIN RAISE EXCEPTION '{table} rows are immutable'; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_no_update()"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in _APPEND_ONLY:
        op.execute(
            f"DROP TRIGGER IF EXISTS {table}_no_update"
            + (f" ON {table}" if dialect == "postgresql" else "")
        )
        if dialect == "postgresql":
            op.execute(f"DROP FUNCTION IF EXISTS {table}_no_update()")
    for table in _TABLES:
        op.drop_table(table)
