"""A department with a legacy database and an enrolled agent, against a real collector.

The legacy database is the demo's (SQLite through the SQLite ODBC driver). What the
collector must end up holding is worked out from the same rows with the agent's mapping,
so a test can compare the collector's store with it record by record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyodbc
from sqlalchemy import create_engine, text

from agent.mapping import Mapping
from exchange_spec import business_key
from installer import legacy_demo_db as legacy

from .processes import BIN, Proc, run_cli

DEPARTMENT = "114307020000000001"
MAPPING = Path(legacy.__file__).parents[1] / "agent" / "mapping" / "examples" / "legacy_demo.toml"


def agent_config(
    db: Path, url: str, *, batch: int = 100, fetch: int = 200, reconcile: bool = False
) -> str:
    # Reconciliation is off unless asked for: these tests count the deliveries exactly.
    return f"""
[agent]
department = "{DEPARTMENT}"
state_dir = "state"
name = "it"

[collector]
url = "{url}"
timeout_seconds = 5

[outbox]
batch_max_records = {batch}

[push]
interval_seconds = 1
backoff_first_seconds = 1
backoff_cap_seconds = 3

[heartbeat]
interval_seconds = 5

[metrics]
enabled = false

[reconcile]
enabled = {str(reconcile).lower()}
interval_minutes = 1

[[sources]]
name = "legacy"
connection = "Driver={{SQLite3}};Database={db}"
mapping = "{MAPPING}"
poll_seconds = 1
fetch_size = {fetch}

[[sources.tables]]
record_type = "SB"
table = "T_SQ_SLXX"
timestamp_column = "XGSJ"
key_column = "ID"
delay_seconds = 0

[[sources.tables]]
record_type = "SL"
table = "T_SQ_SLXX"
timestamp_column = "XGSJ"
key_column = "ID"
delay_seconds = 0

[[sources.tables]]
record_type = "BJ"
query = "{legacy.BJ_QUERY}"
timestamp_column = "XGSJ"
key_column = "ID"
delay_seconds = 0
"""


def open_demo_cases(cases: int) -> set[str]:
    """Case numbers of the demo cases the agent sends that were accepted and never completed
    (every fifth, less every tenth which the mapping excludes): long overdue by now."""
    apps = legacy.demo_applications(cases).applications
    status = {row[0]: row[legacy.SLXX_COLUMNS.index("ZT")] for row in apps}
    return {
        f"43070203012026{i:06d}"
        for i in range(1, cases + 1)
        if i % 5 == 0 and i % 10 != 0 and status[i] == "01"  # sent, accepted, not done
    }


@dataclass
class Department:
    """The legacy database and the agent's directory of one department."""

    root: Path
    url: str

    @property
    def db(self) -> Path:
        return self.root / "legacy.db"

    @property
    def config(self) -> Path:
        return self.root / "agent.toml"

    def create(self, cases: int, *, batch: int = 100) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        legacy.create_legacy_sqlite(self.db, cases)
        self.config.write_text(agent_config(self.db, self.url, batch=batch), "utf-8")

    def add_cases(self, first: int, last: int) -> None:
        """Append cases ``first..last`` (as the demo generator numbers them)."""
        rows = legacy.demo_applications(last)
        conn = pyodbc.connect(legacy.sqlite_odbc(self.db), autocommit=True)
        try:
            legacy.insert_rows(
                conn, "T_SQ_SLXX", legacy.SLXX_COLUMNS, rows.applications[first - 1 :]
            )
            legacy.insert_rows(
                conn,
                "T_SP_BJXX",
                legacy.BJXX_COLUMNS,
                [r for r in rows.completions if r[0] >= first],
            )
        finally:
            conn.close()

    def enrol(self, collector_dir: Path, store: str | None = None) -> None:
        extra = ["--store", store] if store else []
        out = run_cli(
            "esup-collector", "agents", "token", "--data-dir", str(collector_dir),
            "--department", DEPARTMENT, "--name", "演示部门", *extra,
        ).stdout  # fmt: skip
        token = next(x.split()[1] for x in out.splitlines() if x.startswith("token:"))
        run_cli("esup-agent", "enrol", "-c", str(self.config), "--token", token)

    def agent(self) -> Proc:
        return Proc(
            [str(BIN / "esup-agent"), "run", "-c", str(self.config)], self.root / "agent.log"
        )

    def expected_keys(self, cases: int, rows: legacy.DemoRows | None = None) -> set[str]:
        """Business keys of every record the legacy rows (the demo's first ``cases``, or
        ``rows``) should produce."""
        mapping = Mapping.load(MAPPING, hmac_key=b"unused: the demo mapping masks, not hashes")
        rows = rows or legacy.demo_applications(cases)
        keys: set[str] = set()
        apps = {r[0]: dict(zip(legacy.SLXX_COLUMNS, r, strict=True)) for r in rows.applications}
        for app in apps.values():
            for rtype in ("SB", "SL"):
                result = mapping.map_row(rtype, app)
                if result.status == "ok" and result.record:
                    keys.add(business_key(result.record))
        for done in rows.completions:
            row = dict(zip(legacy.BJXX_COLUMNS, done, strict=True))
            app = apps[row["ID"]]
            row.update({k: app[k] for k in ("SQRQ", "LSH", "SXBM", "MJ")})
            result = mapping.map_row("BJ", row)
            if result.status == "ok" and result.record:
                keys.add(business_key(result.record))
        return keys


class CollectorStore:
    """Read-only look into the collector's store, for assertions."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    def scalar(self, sql: str) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())

    def current_keys(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT business_key FROM records_current"))]

    def current_keys_count(self) -> int:
        return self.scalar("SELECT COUNT(*) FROM records_current")

    def version_keys(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(text("SELECT business_key FROM record_versions"))]

    def delivery_seqs(self) -> list[int]:
        with self.engine.connect() as conn:
            return [int(r[0]) for r in conn.execute(text("SELECT seq FROM deliveries"))]

    def close(self) -> None:
        self.engine.dispose()
