"""Tables of the collector's store (SQLAlchemy Core). Migrations live in migrations/versions.

Text columns that hold values taken from records are unbounded (the spec bounds them), so a
record never fails on a column width. Times are stored as UTC; an event time is kept as the text
the record carries next to the received time the collector saw.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

departments = Table(
    "departments",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("name", String(200), nullable=False, server_default=""),
)

enrol_tokens = Table(
    "enrol_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # SHA-256 of the token: the token itself is shown once and never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("department", String(64), ForeignKey("departments.code"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True)),
    Column("used_by_agent", String(64)),
    Column("created_by", String(100), nullable=False, server_default=""),
)

agents = Table(
    "agents",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("department", String(64), ForeignKey("departments.code"), nullable=False),
    Column("public_key", String(64), nullable=False),  # base64 raw Ed25519
    Column("key_id", String(16), nullable=False),
    Column("status", String(16), nullable=False),  # active | revoked
    Column("enrolled_at", DateTime(timezone=True), nullable=False),
    Column("rotated_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_reason", Text),
    Column("hostname", String(255), nullable=False, server_default=""),
    Column("version", String(64), nullable=False, server_default=""),
    Column("last_heartbeat_at", DateTime(timezone=True)),
    Column("last_heartbeat", JSON),
    # Seconds the agent's clock is ahead (+) or behind (-) the collector's, at its last call.
    Column("clock_offset", Float),
)

agent_keys = Table(
    "agent_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("agent_id", String(64), ForeignKey("agents.agent_id"), nullable=False, index=True),
    Column("public_key", String(64), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("valid_from", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True)),
)

nonces = Table(
    "nonces",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("nonce", String(64), primary_key=True),
    Column("seen_at", DateTime(timezone=True), nullable=False, index=True),
)

batches = Table(
    "batches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("agent_id", String(64), ForeignKey("agents.agent_id"), nullable=False, index=True),
    Column("manifest", JSON, nullable=False),
    Column("signature", String(128), nullable=False),
    Column("manifest_hash", String(64), nullable=False),
    Column("receipt", JSON),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("remote_addr", String(64), nullable=False, server_default=""),
)

invalid_records = Table(
    "invalid_records",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("agent_id", String(64), index=True),
    Column("source", String(300), nullable=False),  # agent id or "import:<file>"
    Column("seq", BigInteger),  # agent seq, or the line number of an import
    Column("department", String(64), index=True),
    Column("body", JSON),
    Column("problems", JSON, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

record_versions = Table(
    "record_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("business_key", Text, nullable=False),
    Column("record_type", String(16), nullable=False),
    Column("sblsh", Text),
    Column("sjbbh", BigInteger, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("body", JSON, nullable=False),
    Column("department", String(64), nullable=False),
    Column("event_time", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("source", String(300), nullable=False),
    UniqueConstraint("business_key", "sjbbh"),
)

records_current = Table(
    "records_current",
    metadata,
    Column("business_key", Text, primary_key=True),
    Column("record_type", String(16), nullable=False),
    Column("sblsh", Text, index=True),
    Column("sjbbh", BigInteger, nullable=False),
    Column("version_id", Id, ForeignKey("record_versions.id"), nullable=False),
    Column("body", JSON, nullable=False),
    Column("department", String(64), nullable=False, index=True),
    Column("event_time", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("agent_id", String(64), ForeignKey("agents.agent_id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("record_version_id", Id, ForeignKey("record_versions.id")),
    Column("invalid_id", Id, ForeignKey("invalid_records.id")),
    Column("status", String(16), nullable=False),  # accepted|duplicate|superseded|rejected
    Column("batch_id", Id, ForeignKey("batches.id")),
)

Index("ix_records_current_type_dept", records_current.c.record_type, records_current.c.department)
