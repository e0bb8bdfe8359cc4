"""A row a clerk changes after it was sent reaches the collector as the next data version.

Real legacy SQLite through the ODBC driver, the real pipeline and pusher, and the real
collector app in process; the collector's store says which content is current."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from agent.enrol import enrol
from agent.mapping import Mapping
from agent.pipeline import Pipeline, map_chunk
from agent.push import Pusher
from agent.signing import AgentKeys
from agent.sources import TableSettings
from agent.state import Outbox
from collector.store.enrolment import create_token
from collector.store.tables import deliveries, record_versions, records_current
from collector.store.timestamps import utc_now
from installer.legacy_demo_db import connect, create_legacy_sqlite

from .agent_setup import SB_MAPPING, sb_source, write_mapping

DEPARTMENT = "114307020000000001"  # BMBM of the records the test mapping makes
ROW = 1  # legacy row ID the clerk corrects
KEY = "SB|43070203012026000001"  # its record's business key (SBLSH from LSH 1)


class Department:
    """A legacy database, its pipeline into an outbox, and a pusher to the real collector."""

    def __init__(self, tmp_path: Path, client: TestClient, engine: Engine) -> None:
        self.odbc = create_legacy_sqlite(tmp_path / "legacy.db", n=5)
        self.engine = engine
        with engine.begin() as conn:
            token = create_token(
                conn, DEPARTMENT, now=utc_now(), expires_hours=1, department_name="测试部门"
            )
        keys = AgentKeys(tmp_path / "state")
        enrolment = enrol(client, keys, token=token, department=DEPARTMENT)
        self.outbox = Outbox(tmp_path / "state" / "outbox.sqlite3")
        source = sb_source(self.odbc, write_mapping(tmp_path / "mapping.toml"))
        self.pipeline = Pipeline.for_source(source, self.outbox, b"k" * 32)
        self.pusher = Pusher(self.outbox, keys, enrolment, client)

    def clerk_renames(self, name: str, at: datetime) -> None:
        conn = connect(self.odbc)
        try:
            conn.execute("UPDATE T_SQ_SLXX SET SQRMC = ?, XGSJ = ? WHERE ID = ?", name, at, ROW)
        finally:
            conn.close()

    def poll(self) -> int:
        return sum(r.added for r in self.pipeline.poll())

    def push(self) -> None:
        outcome = self.pusher.push()
        assert outcome.error is None and outcome.rejected == 0, outcome.error

    def current(self) -> tuple[int, str]:
        """(SJBBH, SQRMC) of the collector's current record of the corrected row."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(records_current.c.sjbbh, records_current.c.body).where(
                    records_current.c.business_key == KEY
                )
            ).one()
        return int(row.sjbbh), str(row.body["SQRMC"])

    def versions(self) -> list[int]:
        with self.engine.connect() as conn:
            return sorted(
                int(v)
                for v in conn.execute(
                    select(record_versions.c.sjbbh).where(record_versions.c.business_key == KEY)
                ).scalars()
            )

    def refused(self) -> list[Any]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(deliveries.c.seq).where(deliveries.c.status != "accepted")
                ).scalars()
            )


@pytest.fixture
def dept(tmp_path: Path, collector: tuple[TestClient, Engine]) -> Iterator[Department]:
    d = Department(tmp_path, *collector)
    yield d
    d.outbox.close()


def test_an_update_and_an_update_of_an_update_become_the_current_versions(
    dept: Department,
) -> None:
    assert dept.poll() == 5
    dept.push()
    first_name = dept.current()[1]
    assert dept.current()[0] == 1

    dept.clerk_renames("李四改", datetime(2026, 11, 1, 9, 0))
    assert dept.poll() == 1
    dept.push()
    assert dept.current() == (2, "李四改")

    dept.clerk_renames("王五再改", datetime(2026, 11, 2, 9, 0))
    assert dept.poll() == 1
    dept.push()
    assert dept.current() == (3, "王五再改")
    assert dept.versions() == [1, 2, 3] and first_name != "李四改"
    assert dept.refused() == []  # no version_conflict, no seq_reused

    # A re-read of the unchanged row is a no-op: no new seq, nothing sent.
    last = dept.outbox.stats()["last_seq"]
    report = dept.pipeline.backfill(dept.pipeline.settings.tables[0], None, None)
    assert (report.added, report.duplicates) == (0, 5)
    assert dept.outbox.stats()["last_seq"] == last == 7


def test_an_update_racing_its_first_delivery_sends_both_and_ends_at_the_update(
    dept: Department,
) -> None:
    assert dept.poll() == 5
    dept.clerk_renames("赵六", datetime(2026, 11, 1, 9, 0))  # v1 still pending
    assert dept.poll() == 1
    assert dept.outbox.stats()["pending"] == 6
    dept.push()
    assert dept.current() == (2, "赵六")
    assert dept.versions() == [1, 2] and dept.refused() == []


def test_a_change_back_to_earlier_content_is_a_new_version_too(dept: Department) -> None:
    dept.poll()
    dept.push()
    name = dept.current()[1]
    dept.clerk_renames("钱七", datetime(2026, 11, 1, 9, 0))
    dept.poll()
    dept.clerk_renames(name, datetime(2026, 11, 2, 9, 0))  # the clerk undoes the change
    assert dept.poll() == 1
    dept.push()
    assert dept.current() == (3, name)


def test_a_mapped_version_column_is_used_as_is(tmp_path: Path) -> None:
    text = SB_MAPPING.replace("FORMATS", '"%Y/%m/%d %H:%M", "%Y%m%d%H%M%S"').replace(
        'TJFS = { constant = "1" }', 'TJFS = { constant = "1" }\nSJBBH = { column = "LSH" }'
    )
    (tmp_path / "m.toml").write_text(text, "utf-8")
    mapping = Mapping.load(tmp_path / "m.toml", hmac_key=b"k" * 32)
    assert mapping.maps_version("SB")
    default = Mapping.load(write_mapping(tmp_path / "d.toml"), hmac_key=b"k" * 32)
    assert not default.maps_version("SB")
    table = TableSettings(record_type="SB", table="T", key_column="ID")
    odbc = create_legacy_sqlite(tmp_path / "legacy.db", n=3)
    conn = connect(odbc)
    try:
        cur = conn.execute("SELECT * FROM T_SQ_SLXX WHERE ID = 2")
        columns = [c[0] for c in cur.description]
        row = dict(zip(columns, cur.fetchone(), strict=True))
    finally:
        conn.close()
    [mapped] = map_chunk("xzsp", table, [row], mapping).records
    [numbered] = map_chunk("xzsp", table, [row], default).records
    assert not mapped.auto_version and mapped.version == 2  # LSH of row 2
    assert numbered.auto_version
    with Outbox(tmp_path / "o.db") as outbox:
        outbox.commit_chunk("xzsp", "SB:T", [mapped])
        changed = map_chunk("xzsp", table, [dict(row, SQRMC="孙八")], mapping).records
        outbox.commit_chunk("xzsp", "SB:T", changed)
        # The department system's SJBBH stays: the outbox does not number over it.
        assert [outbox.record(s)["version"] for s in (1, 2)] == [2, 2]


def test_after_a_restore_a_changed_row_goes_above_the_versions_the_collector_holds(
    tmp_path: Path, collector: tuple[TestClient, Engine]
) -> None:
    """The backup knew version 1; versions 2 went after it. Changed again after the restore,
    the row is first numbered 2 (refused: the collector holds 2), then 3, which becomes current."""
    import shutil
    import sqlite3

    dept = Department(tmp_path, *collector)
    dept.poll()
    dept.push()
    backup = tmp_path / "backup.sqlite3"
    with sqlite3.connect(backup) as copy:
        dept.outbox.store._conn.backup(copy)
    dept.clerk_renames("周九", datetime(2026, 11, 1, 9, 0))
    dept.poll()
    dept.push()
    assert dept.current() == (2, "周九")

    dept.outbox.close()
    shutil.copy(backup, tmp_path / "state" / "outbox.sqlite3")  # the restore
    for stale in (tmp_path / "state").glob("outbox.sqlite3-*"):
        stale.unlink()
    dept.outbox = Outbox(tmp_path / "state" / "outbox.sqlite3")
    dept.pipeline.outbox = dept.outbox
    dept.pusher = Pusher(dept.outbox, dept.pusher.keys, dept.pusher.enrolment, dept.pusher.client)
    dept.clerk_renames("吴十", datetime(2026, 11, 2, 9, 0))
    dept.poll()  # re-reads what went after the backup too
    for _ in range(4):  # each refusal is answered by sending again
        dept.pusher.push()
    assert dept.current() == (3, "吴十")
    assert dept.outbox.stats()["pending"] == 0 and dept.outbox.stats()["rejected"] == 0
    assert dept.outbox.counters().get("reversioned") == 1
