"""The collector's store: tables (SQLAlchemy Core), migrations (Alembic) and small query modules.

- :mod:`.engine` – :func:`make_engine` (SQLite pragmas, PostgreSQL via psycopg)
- :mod:`.migrate` – :func:`upgrade`, :func:`check_current`
- :mod:`.enrolment` – tokens, agents, keys, revocation
- :mod:`.ingest` – :class:`RecordWriter`, the one path every record takes (batches and import)
- :mod:`.evidence` – nonces and batch manifests
- :mod:`.gaps` – missing sequence ranges per agent
"""
