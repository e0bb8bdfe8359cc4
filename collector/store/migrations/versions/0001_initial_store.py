"""Initial store: departments, enrolment, agents and keys, evidence, records, deliveries.

Revision ID: 0001
Revises:
Create Date: 2026-11-30 03:22:59.009434
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_departments")),
    )
    op.create_table(
        "invalid_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("body", sa.JSON(), nullable=True),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invalid_records")),
    )
    with op.batch_alter_table("invalid_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invalid_records_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_invalid_records_department"), ["department"], unique=False
        )

    op.create_table(
        "nonces",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agent_id", "nonce", name=op.f("pk_nonces")),
    )
    with op.batch_alter_table("nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_nonces_seen_at"), ["seen_at"], unique=False)

    op.create_table(
        "record_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("business_key", sa.Text(), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("sblsh", sa.Text(), nullable=True),
        sa.Column("sjbbh", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("event_time", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_versions")),
        sa.UniqueConstraint(
            "business_key", "sjbbh", name=op.f("uq_record_versions_business_key_sjbbh")
        ),
    )
    op.create_table(
        "agents",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.Column("hostname", sa.String(length=255), server_default="", nullable=False),
        sa.Column("version", sa.String(length=64), server_default="", nullable=False),
        sa.Column("last_heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_heartbeat", sa.JSON(), nullable=True),
        sa.Column("clock_offset", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["department"], ["departments.code"], name=op.f("fk_agents_department_departments")
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_agents")),
    )
    op.create_table(
        "enrol_tokens",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by_agent", sa.String(length=64), nullable=True),
        sa.Column("created_by", sa.String(length=100), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["department"],
            ["departments.code"],
            name=op.f("fk_enrol_tokens_department_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrol_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_enrol_tokens_token_hash")),
    )
    op.create_table(
        "records_current",
        sa.Column("business_key", sa.Text(), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("sblsh", sa.Text(), nullable=True),
        sa.Column("sjbbh", sa.BigInteger(), nullable=False),
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("event_time", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["record_versions.id"],
            name=op.f("fk_records_current_version_id_record_versions"),
        ),
        sa.PrimaryKeyConstraint("business_key", name=op.f("pk_records_current")),
    )
    with op.batch_alter_table("records_current", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_records_current_department"), ["department"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_records_current_sblsh"), ["sblsh"], unique=False)
        batch_op.create_index(
            "ix_records_current_type_dept", ["record_type", "department"], unique=False
        )

    op.create_table(
        "agent_keys",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.agent_id"], name=op.f("fk_agent_keys_agent_id_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_keys")),
    )
    with op.batch_alter_table("agent_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agent_keys_agent_id"), ["agent_id"], unique=False)

    op.create_table(
        "batches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("manifest_hash", sa.String(length=64), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.agent_id"], name=op.f("fk_batches_agent_id_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batches_agent_id"), ["agent_id"], unique=False)

    op.create_table(
        "deliveries",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "record_version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "invalid_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.agent_id"], name=op.f("fk_deliveries_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_deliveries_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["invalid_id"],
            ["invalid_records.id"],
            name=op.f("fk_deliveries_invalid_id_invalid_records"),
        ),
        sa.ForeignKeyConstraint(
            ["record_version_id"],
            ["record_versions.id"],
            name=op.f("fk_deliveries_record_version_id_record_versions"),
        ),
        sa.PrimaryKeyConstraint("agent_id", "seq", name=op.f("pk_deliveries")),
    )


def downgrade() -> None:
    op.drop_table("deliveries")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batches_agent_id"))

    op.drop_table("batches")
    with op.batch_alter_table("agent_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_keys_agent_id"))

    op.drop_table("agent_keys")
    with op.batch_alter_table("records_current", schema=None) as batch_op:
        batch_op.drop_index("ix_records_current_type_dept")
        batch_op.drop_index(batch_op.f("ix_records_current_sblsh"))
        batch_op.drop_index(batch_op.f("ix_records_current_department"))

    op.drop_table("records_current")
    op.drop_table("enrol_tokens")
    op.drop_table("agents")
    op.drop_table("record_versions")
    with op.batch_alter_table("nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nonces_seen_at"))

    op.drop_table("nonces")
    with op.batch_alter_table("invalid_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invalid_records_department"))
        batch_op.drop_index(batch_op.f("ix_invalid_records_agent_id"))

    op.drop_table("invalid_records")
    op.drop_table("departments")
