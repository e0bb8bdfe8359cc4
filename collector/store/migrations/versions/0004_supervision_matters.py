"""Supervision matters, their append-only events and generated notice documents.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "supervision_matters",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("verdict_id", sa.String(length=64), nullable=False),
        sa.Column("dedup_key", sa.Text(), server_default="", nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Text(), nullable=False),
        sa.Column("card", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=100), server_default="", nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_reply_by", sa.Date(), nullable=False),
        sa.Column("due_provisional", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("reply_workdays", sa.Integer(), nullable=False),
        sa.Column("calendar_version", sa.String(length=64), server_default="", nullable=False),
        sa.Column("rule_version", sa.String(length=64), server_default="", nullable=False),
        sa.Column("verdict", sa.JSON(), nullable=False),
        sa.Column("supersedes_id", _ID, nullable=True),
        sa.Column("superseded_by_id", _ID, nullable=True),
        sa.Column("appeal_pending", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["supersedes_id"],
            ["supervision_matters.id"],
            name=op.f("fk_supervision_matters_supersedes_id_supervision_matters"),
        ),
        sa.ForeignKeyConstraint(
            ["superseded_by_id"],
            ["supervision_matters.id"],
            name=op.f("fk_supervision_matters_superseded_by_id_supervision_matters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_matters")),
        sa.UniqueConstraint("number", name=op.f("uq_supervision_matters_number")),
        sa.UniqueConstraint("verdict_id", name=op.f("uq_supervision_matters_verdict_id")),
        sa.UniqueConstraint("year", "seq", name=op.f("uq_supervision_matters_year_seq")),
    )
    with op.batch_alter_table("supervision_matters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supervision_matters_department"), ["department"])
        batch_op.create_index(batch_op.f("ix_supervision_matters_case_id"), ["case_id"])
        batch_op.create_index(batch_op.f("ix_supervision_matters_state"), ["state"])

    op.create_table(
        "supervision_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("matter_id", _ID, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["supervision_matters.id"],
            name=op.f("fk_supervision_events_matter_id_supervision_matters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_events")),
    )
    with op.batch_alter_table("supervision_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supervision_events_matter_id"), ["matter_id"])

    op.create_table(
        "supervision_documents",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("matter_id", _ID, nullable=False),
        sa.Column("title", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("generated_by", sa.String(length=100), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["supervision_matters.id"],
            name=op.f("fk_supervision_documents_matter_id_supervision_matters"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_documents")),
    )
    with op.batch_alter_table("supervision_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supervision_documents_matter_id"), ["matter_id"])


def downgrade() -> None:
    op.drop_table("supervision_documents")
    op.drop_table("supervision_events")
    op.drop_table("supervision_matters")
