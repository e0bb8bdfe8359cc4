"""Tables of the collector's store (SQLAlchemy Core). Migrations live in migrations/versions.

Text columns that hold values taken from records are unbounded (the spec bounds them), so a
record never fails on a column width. Times are stored as UTC; an event time is kept as the text
the record carries next to the received time the collector saw.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
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
    # False: the agent enrolled with this token replaces the department's active agents (a
    # re-installed machine); True: it runs next to them (issued on purpose, --additional-agent).
    Column("additional_agent", Boolean, nullable=False, server_default="0"),
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
    # The agent's last word on what it still has to send (batch manifest or heartbeat), and
    # since when it has been behind: the engine waits for a department whose agent is behind.
    Column("backlog_records", Integer),
    Column("backlog_capturing", Boolean),
    Column("backlog_reported_at", DateTime(timezone=True)),
    Column("behind_since", DateTime(timezone=True)),
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
# The sweep's pages: the next SL records after a case number, the records of a page of cases.
Index("ix_records_current_type_sblsh", records_current.c.record_type, records_current.c.sblsh)


# -- Notifications (collector/notify) ---------------------------------------------------------
# Contacts are the people (or group bots) a verdict is told to; the outbox holds one row per
# (verdict dedup key, contact, channel), so a re-run sweep never sends a second message.

notify_contacts = Table(
    "notify_contacts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("department", String(64), nullable=False, index=True),  # "" = the bureau itself
    # handling_officer | approving_officer | department_leader | bureau_supervisor
    Column("role", String(32), nullable=False),
    Column("name", String(100), nullable=False),
    Column("phone", String(20)),  # E.164, +86...
    Column("email", String(254)),
    Column("bot", String(64)),  # name of a configured group bot
    Column("active", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("department", "role", "name"),
)

notify_outbox = Table(
    "notify_outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dedup_key", String(300), nullable=False),
    Column("contact_id", Id, ForeignKey("notify_contacts.id"), nullable=False),
    Column("channel", String(16), nullable=False),  # sms | email | bot
    Column("address", String(254), nullable=False),  # phone, email or bot name when enqueued
    Column("verdict_id", String(64)),
    Column("case_id", Text),
    Column("department", String(64), nullable=False, server_default=""),
    Column("kind", String(16), nullable=False),
    Column("subject", Text, nullable=False, server_default=""),
    Column("body", Text, nullable=False),
    Column("params", JSON, nullable=False),  # ordered template parameters (SMS)
    # pending | sending | sent | failed | deferred
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("claimed_at", DateTime(timezone=True)),
    Column("sent_at", DateTime(timezone=True)),
    Column("provider", String(32)),
    Column("provider_message_id", String(128)),
    Column("provider_response", JSON),
    Column("last_error", Text),
    Column("deferred_reason", String(32)),  # outside_hours | daily_cap
    # Delivery report from the provider: the proof that notice was served.
    Column("receipt_status", String(16)),  # delivered | undelivered
    Column("receipt", JSON),
    Column("receipt_at", DateTime(timezone=True)),
    UniqueConstraint("dedup_key", "contact_id", "channel"),
)

Index("ix_notify_outbox_state_next", notify_outbox.c.state, notify_outbox.c.next_attempt_at)


# -- supervision engine (collector/engine/, migration 0002) ----------------------------------
# Imports kept in this section so other sections can be appended without touching the top.
from sqlalchemy import Boolean as _EngineBoolean  # noqa: E402
from sqlalchemy import Date as _EngineDate  # noqa: E402

calendar_versions = Table(
    "calendar_versions",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("parent", Integer),
    Column("content_hash", String(40), nullable=False),
)

# A version is a full set of rows (copy-on-write): about 8,400 rows for 23 years.
calendar_days = Table(
    "calendar_days",
    metadata,
    Column("version", Integer, ForeignKey("calendar_versions.version"), primary_key=True),
    Column("day", _EngineDate, primary_key=True),
    Column("is_workday", _EngineBoolean, nullable=False),
    Column("name", String(100)),
    Column("source", Text, nullable=False),
)

rule_versions = Table(
    "rule_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("version", String(200), nullable=False),  # "<declared version>@<hash8>"
    Column("content_hash", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("activated_at", DateTime(timezone=True), nullable=False),
)

case_clocks = Table(
    "case_clocks",
    metadata,
    Column("sblsh", Text, primary_key=True),
    Column("department", String(64), nullable=False, index=True),
    Column("state", String(16), nullable=False, index=True),
    Column("promised_deadline", _EngineDate),
    Column("legal_deadline", _EngineDate),
    Column("warning_on", _EngineDate),
    Column("workdays_used", Integer, nullable=False),
    Column("provisional", _EngineBoolean, nullable=False),
    Column("calendar_version", Integer, nullable=False),
    Column("rule_version", String(200), nullable=False),
    Column("clock", JSON, nullable=False),
    Column("evaluated_at", DateTime(timezone=True), nullable=False),
    # The next date on which time alone can change the case's verdicts (NULL: none); the full
    # sweep skips open cases whose date has not come and whose basis did not change.
    Column("recheck_on", _EngineDate, index=True),
)

verdicts = Table(
    "verdicts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sblsh", Text, nullable=False),
    Column("department", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # warning | yellow | red | anomaly
    Column("code", String(64), nullable=False),
    Column("rule", String(200), nullable=False),
    Column("level", String(16), nullable=False),
    Column("dedup_key", Text, nullable=False, unique=True),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("due", JSON, nullable=False),
    Column("calendar_version", Integer, nullable=False),
    Column("rule_version", String(200), nullable=False),
    Column("details", JSON, nullable=False),
    UniqueConstraint("sblsh", "rule", "level"),
)

# Withdrawal is a new row: the verdict row itself never changes.
verdict_withdrawals = Table(
    "verdict_withdrawals",
    metadata,
    Column("verdict_id", Id, ForeignKey("verdicts.id"), primary_key=True),
    Column("proposal_id", Id, ForeignKey("reassessment_proposals.id")),
    Column("withdrawn_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", String(100), nullable=False),
    Column("reason", Text, nullable=False),
)

reassessment_proposals = Table(
    "reassessment_proposals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("verdict_id", Id, ForeignKey("verdicts.id"), nullable=False, index=True),
    Column("calendar_version", Integer, nullable=False),
    Column("rule_version", String(200), nullable=False),
    Column("old_basis", JSON, nullable=False),
    Column("new_basis", JSON, nullable=False),
    Column("action", String(16), nullable=False),  # withdraw | keep
    Column("status", String(16), nullable=False),  # pending | accepted | rejected
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True)),
    Column("decided_by", String(100)),
    Column("reason", Text),
    # Why the proposal was made: "" for a calendar or rules change, "withdrawal:<id>" for a
    # record the bureau withdrew (migration 0008_owner).
    Column("cause", String(100), nullable=False, server_default=""),
    UniqueConstraint(
        "verdict_id",
        "calendar_version",
        "rule_version",
        "cause",
        name="uq_reassessment_proposals_basis_cause",
    ),
)

exemptions = Table(
    "exemptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("sblsh", Text, nullable=False, index=True),
    Column("rule", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("approver", String(100), nullable=False),
    Column("expires_on", _EngineDate, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(100), nullable=False),
)

# Append-only; row_hash = sha256(prev_hash + canonical row), checked by `audit verify`.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("action", String(64), nullable=False),
    Column("subject", Text, nullable=False),
    Column("details", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("row_hash", String(64), nullable=False),
)

engine_locks = Table(
    "engine_locks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(200)),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

engine_state = Table(
    "engine_state",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# -- supervision matters (issue 4, collector/supervision/; migration 0004) --------------------
# One matter per card (yellow or red verdict): 督办通知书 / 整改建议书, the department's reply
# (回告), closing or escalation. verdict_id is text so the engine's id type stays its own.
supervision_matters = Table(
    "supervision_matters",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("number", String(40), nullable=False, unique=True),  # 督〔2026〕第0001号
    Column("year", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("verdict_id", String(64), nullable=False, unique=True),
    Column("dedup_key", Text, nullable=False, server_default=""),
    Column("department", String(64), nullable=False, index=True),
    Column("case_id", Text, nullable=False, index=True),
    Column("card", String(16), nullable=False),  # yellow | red
    Column("rule", String(100), nullable=False, server_default=""),
    Column("state", String(16), nullable=False, index=True),  # open|replied|closed|escalated
    Column("level", String(16), nullable=False),  # officer | leader | bureau
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("due_reply_by", Date, nullable=False),
    Column("due_provisional", Boolean, nullable=False, server_default="0"),
    Column("reply_workdays", Integer, nullable=False),
    Column("calendar_version", String(64), nullable=False, server_default=""),
    Column("rule_version", String(64), nullable=False, server_default=""),
    # The verdict as issued (deadlines, details): the notice is rendered from this snapshot.
    Column("verdict", JSON, nullable=False),
    # A red card on a case whose yellow matter is still open supersedes that yellow matter.
    Column("supersedes_id", Id, ForeignKey("supervision_matters.id")),
    Column("superseded_by_id", Id, ForeignKey("supervision_matters.id")),
    Column("appeal_pending", Boolean, nullable=False, server_default="0"),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("year", "seq"),
)

# Append-only history of a matter: opened, notice_generated, reply_received, closed,
# escalated, appealed, superseded.
supervision_events = Table(
    "supervision_events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("matter_id", Id, ForeignKey("supervision_matters.id"), nullable=False, index=True),
    Column("kind", String(24), nullable=False),
    Column("actor", String(100), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("data", JSON),
)

# Generated notices: the PDF is stored content-addressed under <data_dir>/documents/.
supervision_documents = Table(
    "supervision_documents",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("matter_id", Id, ForeignKey("supervision_matters.id"), nullable=False, index=True),
    Column("title", String(40), nullable=False),  # 督办通知书 | 整改建议书
    Column("sha256", String(64), nullable=False),
    Column("path", Text, nullable=False),  # relative to the documents folder
    Column("size", BigInteger, nullable=False),
    Column("generated_at", DateTime(timezone=True), nullable=False),
    Column("generated_by", String(100), nullable=False, server_default=""),
)

# Cases the ingest touched, marked in the ingest's own transaction: the engine's dirty
# sweep evaluates and clears them. A receipt-time watermark alone misses a batch that
# commits after a later one; a mark commits exactly with the records it points at.
engine_dirty_cases = Table(
    "engine_dirty_cases",
    metadata,
    Column("sblsh", Text, primary_key=True),
    Column("marked_at", DateTime(timezone=True), nullable=False),
    Column("department", String(64)),  # lets a sweep keep a catching-up department's marks
)

# -- reconciliation (RECON records; collector/store/recon_reports.py, engine/reconcile.py) ---
# The latest count an agent sent for one department, record type and event day (UTC+8), and
# what the store held for them when it arrived: compared at ingest, in sequence order with the
# records counted. The engine raises a counts_disagree verdict for a report that disagrees
# (open_verdict_id) and records its resolution once a later report agrees.
recon_reports = Table(
    "recon_reports",
    metadata,
    Column("department", String(64), primary_key=True),
    Column("record_type", String(16), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("agent_count", BigInteger, nullable=False),
    Column("quarantined", BigInteger, nullable=False),
    Column("agent_digest", String(64)),
    Column("held_count", BigInteger, nullable=False),
    Column("held_digest", String(64), nullable=False),
    Column("source_table", Text, nullable=False),
    Column("counted_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("source", String(300), nullable=False),
    Column("agrees", Boolean, nullable=False, index=True),
    Column("open_verdict_id", Id, ForeignKey("verdicts.id")),
    Column("verdicts_issued", Integer, nullable=False),
)

# A verdict whose condition ended (a later reconciliation agrees). Like a withdrawal, a new
# row: the verdict itself never changes.
verdict_resolutions = Table(
    "verdict_resolutions",
    metadata,
    Column("verdict_id", Id, ForeignKey("verdicts.id"), primary_key=True),
    Column("resolved_at", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False),
    Column("details", JSON, nullable=False),
)

# The RECON comparison counts a department's current records of one type around one day.
Index(
    "ix_records_current_department_record_type_event_time",
    records_current.c.department,
    records_current.c.record_type,
    records_current.c.event_time,
)

# -- case ownership, withdrawn records, catch-up waits (issue 8; migration 0008_owner) -------
# The bureau's register of case-number prefixes (exchange_spec.case_numbers): a case number
# starting with a department's prefix is that department's case.
case_number_prefixes = Table(
    "case_number_prefixes",
    metadata,
    Column("prefix", String(40), primary_key=True),
    Column("department", String(64), ForeignKey("departments.code"), nullable=False, index=True),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("registered_by", String(100), nullable=False),
)

# The department each case belongs to, decided once when the case is first seen (prefix,
# catalogue, first delivery); only the bureau moves a case (`esup-collector case move`).
case_owners = Table(
    "case_owners",
    metadata,
    Column("sblsh", Text, primary_key=True),
    Column("department", String(64), nullable=False, index=True),
    Column("basis", String(16), nullable=False),  # prefix | catalogue | first | moved
    Column("decided_at", DateTime(timezone=True), nullable=False),
)

# Record versions the bureau withdrew: the version stays in record_versions as evidence, it
# no longer counts (records_current holds the highest version not withdrawn).
record_withdrawals = Table(
    "record_withdrawals",
    metadata,
    Column("version_id", Id, ForeignKey("record_versions.id"), primary_key=True),
    Column("business_key", Text, nullable=False, index=True),
    Column("sblsh", Text),
    Column("withdrawn_at", DateTime(timezone=True), nullable=False),
    Column("withdrawn_by", String(100), nullable=False),
    Column("reason", Text, nullable=False),
)

# Each run of "behind" reports of an agent (open while ended_at is NULL): the engine waits for
# a department only within a bounded total of such time (collector/engine/catching_up.py).
backlog_waits = Table(
    "backlog_waits",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("agent_id", String(64), ForeignKey("agents.agent_id"), nullable=False, index=True),
    Column("department", String(64), nullable=False, index=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
)
