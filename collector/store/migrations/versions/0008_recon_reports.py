"""Reconciliation: the agents' RECON counts per department, record type and day, compared
with what the store holds, and the resolution of a verdict whose condition ended.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "recon_reports",
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("record_type", sa.String(16), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("agent_count", sa.BigInteger(), nullable=False),
        sa.Column("quarantined", sa.BigInteger(), nullable=False),
        sa.Column("agent_digest", sa.String(64)),
        sa.Column("held_count", sa.BigInteger(), nullable=False),
        sa.Column("held_digest", sa.String(64), nullable=False),
        sa.Column("source_table", sa.Text(), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("agrees", sa.Boolean(), nullable=False),
        sa.Column("open_verdict_id", Id),
        sa.Column("verdicts_issued", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["open_verdict_id"],
            ["verdicts.id"],
            name=op.f("fk_recon_reports_open_verdict_id_verdicts"),
        ),
        sa.PrimaryKeyConstraint("department", "record_type", "day", name=op.f("pk_recon_reports")),
    )
    op.create_index(op.f("ix_recon_reports_agrees"), "recon_reports", ["agrees"])
    op.create_index(
        "ix_records_current_department_record_type_event_time",
        "records_current",
        ["department", "record_type", "event_time"],
    )
    op.create_table(
        "verdict_resolutions",
        sa.Column("verdict_id", Id, nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["verdict_id"], ["verdicts.id"], name=op.f("fk_verdict_resolutions_verdict_id_verdicts")
        ),
        sa.PrimaryKeyConstraint("verdict_id", name=op.f("pk_verdict_resolutions")),
    )


def downgrade() -> None:
    op.drop_table("verdict_resolutions")
    op.drop_index(
        "ix_records_current_department_record_type_event_time", table_name="records_current"
    )
    op.drop_index(op.f("ix_recon_reports_agrees"), table_name="recon_reports")
    op.drop_table("recon_reports")
