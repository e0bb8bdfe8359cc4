"""Say on each enrolment token whether its agent replaces the department's active agents.

A department had no limit on active agents: re-enrolling a re-installed machine left the old
agent active next to the new one. A token now replaces them on enrolment unless it was issued
on purpose for an additional agent. Tokens issued before this migration replace too.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrol_tokens") as batch:
        batch.add_column(
            sa.Column("additional_agent", sa.Boolean(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("enrol_tokens") as batch:
        batch.drop_column("additional_agent")
