"""Index records_current on (record_type, sblsh) for the sweep's pages.

The sweep asks for "the next 2,000 SL records after this case number, in order" and for "the
case records of these 2,000 case numbers". With only (record_type, department) to choose
from, SQLite read every record of those types for each page, so a sweep grew with the square
of the number of cases.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_records_current_type_sblsh", "records_current", ["record_type", "sblsh"])


def downgrade() -> None:
    op.drop_index("ix_records_current_type_sblsh", table_name="records_current")
