"""Cases belong to departments; the bureau withdraws records; catch-up waits are bounded.

- ``case_number_prefixes``: the bureau's register of each department's case-number prefixes.
- ``case_owners``: the department of each case, decided when the case is first seen. Cases
  already held are given the department of their current acceptance (SL), else of their
  first delivered record.
- ``record_withdrawals``: record versions an operator withdrew (kept as evidence).
- ``backlog_waits``: each run of "behind" reports of an agent; open runs are created for the
  agents behind now.
- ``reassessment_proposals.cause``: a proposal made because a record was withdrawn can sit
  next to one made for a calendar or rules change of the same verdict.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_CASE_TYPES = "('SB', 'SL', 'SPCL', 'BZGZ', 'BZSL', 'TBCXSQ', 'TBCXJG', 'BJ', 'LQDJ')"
_PROPOSALS = "reassessment_proposals"


def upgrade() -> None:
    op.create_table(
        "case_number_prefixes",
        sa.Column("prefix", sa.String(40), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(
            ["department"],
            ["departments.code"],
            name=op.f("fk_case_number_prefixes_department_departments"),
        ),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_case_number_prefixes")),
    )
    op.create_index(
        op.f("ix_case_number_prefixes_department"), "case_number_prefixes", ["department"]
    )
    op.create_table(
        "case_owners",
        sa.Column("sblsh", sa.Text(), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("basis", sa.String(16), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sblsh", name=op.f("pk_case_owners")),
    )
    op.create_index(op.f("ix_case_owners_department"), "case_owners", ["department"])
    op.create_table(
        "record_withdrawals",
        sa.Column("version_id", _ID, nullable=False),
        sa.Column("business_key", sa.Text(), nullable=False),
        sa.Column("sblsh", sa.Text(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_by", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["record_versions.id"],
            name=op.f("fk_record_withdrawals_version_id_record_versions"),
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_record_withdrawals")),
    )
    op.create_index(
        op.f("ix_record_withdrawals_business_key"), "record_withdrawals", ["business_key"]
    )
    op.create_table(
        "backlog_waits",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(64), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.agent_id"], name=op.f("fk_backlog_waits_agent_id_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backlog_waits")),
    )
    op.create_index(op.f("ix_backlog_waits_agent_id"), "backlog_waits", ["agent_id"])
    op.create_index(op.f("ix_backlog_waits_department"), "backlog_waits", ["department"])
    _proposal_cause()
    _backfill()


def _proposal_cause() -> None:
    # The old constraint's name was cut to 63 characters on PostgreSQL: look it up.
    old = [
        c["name"]
        for c in sa.inspect(op.get_bind()).get_unique_constraints(_PROPOSALS)
        if set(c["column_names"]) == {"verdict_id", "calendar_version", "rule_version"}
    ]
    with op.batch_alter_table(_PROPOSALS) as batch:
        batch.add_column(sa.Column("cause", sa.String(100), nullable=False, server_default=""))
        for name in old:
            batch.drop_constraint(name, type_="unique")
        batch.create_unique_constraint(
            "uq_reassessment_proposals_basis_cause",
            ["verdict_id", "calendar_version", "rule_version", "cause"],
        )


def _backfill() -> None:
    # The department of a case held before ownership existed: its current SL's, else the
    # department of its first delivered record (what the engine took as its department).
    op.execute(
        "INSERT INTO case_owners (sblsh, department, basis, decided_at) "
        "SELECT sblsh, department, 'first', received_at FROM records_current "
        "WHERE record_type = 'SL' AND sblsh IS NOT NULL"
    )
    op.execute(
        "INSERT INTO case_owners (sblsh, department, basis, decided_at) "
        "SELECT v.sblsh, v.department, 'first', v.received_at FROM record_versions v "
        "WHERE v.id IN (SELECT MIN(id) FROM record_versions WHERE sblsh IS NOT NULL "
        f"AND record_type IN {_CASE_TYPES} GROUP BY sblsh) "
        "AND NOT EXISTS (SELECT 1 FROM case_owners o WHERE o.sblsh = v.sblsh)"
    )
    op.execute(
        "INSERT INTO backlog_waits (agent_id, department, started_at) "
        "SELECT agent_id, department, behind_since FROM agents WHERE behind_since IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table(_PROPOSALS) as batch:
        batch.drop_constraint("uq_reassessment_proposals_basis_cause", type_="unique")
        batch.create_unique_constraint(
            "uq_reassessment_proposals_verdict_id_calendar_version_rule_version",
            ["verdict_id", "calendar_version", "rule_version"],
        )
        batch.drop_column("cause")
    op.drop_table("backlog_waits")
    op.drop_table("record_withdrawals")
    op.drop_table("case_owners")
    op.drop_table("case_number_prefixes")
