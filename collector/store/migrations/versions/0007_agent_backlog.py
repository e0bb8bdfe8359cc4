"""Remember how far behind each agent is, and which department each dirty mark belongs to.

An agent sending a backlog delivers a case's acceptance in one batch and its completion in a
later one. Judged in between, a case completed on time looks overdue. Each batch (and
heartbeat) now says whether more is coming; the engine waits for a department whose agent is
behind, and keeps the dirty marks of that department's cases until it has caught up.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("backlog_records", sa.Integer()))
        batch.add_column(sa.Column("backlog_capturing", sa.Boolean()))
        batch.add_column(sa.Column("backlog_reported_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("behind_since", sa.DateTime(timezone=True)))
    with op.batch_alter_table("engine_dirty_cases") as batch:
        batch.add_column(sa.Column("department", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("engine_dirty_cases") as batch:
        batch.drop_column("department")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("behind_since")
        batch.drop_column("backlog_reported_at")
        batch.drop_column("backlog_capturing")
        batch.drop_column("backlog_records")
