"""Cases marked by the ingest for the engine's next dirty sweep.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "engine_dirty_cases",
        sa.Column("sblsh", sa.Text(), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sblsh", name=op.f("pk_engine_dirty_cases")),
    )


def downgrade() -> None:
    op.drop_table("engine_dirty_cases")
