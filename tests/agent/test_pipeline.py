"""From a real legacy SQLite database, through the SQLite3 ODBC driver and the mapping,
into the outbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.mapping import Mapping
from agent.pipeline import Pipeline, replay_quarantine, table_key
from agent.state import Limits, Outbox
from installer.legacy_demo_db import (
    SLXX_COLUMNS,
    connect,
    create_legacy_sqlite,
    demo_applications,
    insert_rows,
)

from .agent_setup import sb_source, write_mapping

# 50 demo applications: every 10th is secret-level (excluded); every 3rd has a time format
# the broken mapping does not know (quarantined unless excluded).
EXCLUDED, QUARANTINED, VALID = 5, 15, 30


settings = sb_source


@pytest.fixture
def legacy(tmp_path: Path) -> str:
    return create_legacy_sqlite(tmp_path / "legacy.db", n=50)


def pipeline(tmp_path: Path, odbc: str, outbox: Outbox, *, broken: bool) -> Pipeline:
    mapping = write_mapping(tmp_path / "mapping.toml", broken=broken)
    return Pipeline.for_source(settings(odbc, mapping), outbox, b"k" * 32)


def test_rows_become_records_quarantine_or_exclusions_chunk_by_chunk(
    tmp_path: Path, legacy: str
) -> None:
    with Outbox(tmp_path / "o.db") as outbox:
        p = pipeline(tmp_path, legacy, outbox, broken=True)
        [report] = p.poll()
        assert (report.rows, report.added, report.quarantined, report.excluded) == (
            50, VALID, QUARANTINED, EXCLUDED
        )  # fmt: skip
        assert report.chunks == 8  # 50 rows in chunks of 7: streamed, never all at once
        assert outbox.stats()["pending"] == VALID
        entries = outbox.quarantine()
        assert len(entries) == QUARANTINED
        assert all(e.problems and e.problems[0]["path"] for e in entries)
        assert entries[0].row["ID"] % 3 == 0  # the legacy row is kept (locally) for replay
        cursor = outbox.cursor("xzsp", table_key(p.settings.tables[0]))
        assert cursor["key"] == 50

        # Nothing new: a second poll adds nothing.
        assert p.poll()[0].rows == 0

        # New rows in the legacy database are picked up from the cursor.
        conn = connect(legacy)
        insert_rows(conn, "T_SQ_SLXX", SLXX_COLUMNS, demo_applications(53).applications[50:])
        conn.close()
        [more] = p.poll()
        assert more.rows == 3 and more.added + more.quarantined == 3


def test_replay_moves_fixed_rows_into_the_outbox(tmp_path: Path, legacy: str) -> None:
    with Outbox(tmp_path / "o.db") as outbox:
        pipeline(tmp_path, legacy, outbox, broken=True).poll()
        still_broken = Mapping.load(
            write_mapping(tmp_path / "m1.toml", broken=True), hmac_key=b"k" * 32
        )
        counts = replay_quarantine(outbox, {"xzsp": still_broken})
        assert counts["still_invalid"] == QUARANTINED and outbox.stats()["pending"] == VALID
        fixed = Mapping.load(write_mapping(tmp_path / "m2.toml"), hmac_key=b"k" * 32)
        counts = replay_quarantine(outbox, {"xzsp": fixed})
        assert counts["replayed"] == counts["added"] == QUARANTINED
        assert outbox.quarantine() == [] and len(outbox.quarantine("replayed")) == QUARANTINED
        assert outbox.stats()["pending"] == VALID + QUARANTINED
        # A re-read with the fixed mapping finds every record already there.
        report = pipeline(tmp_path, legacy, outbox, broken=False).backfill(
            settings(legacy, tmp_path / "m2.toml").tables[0], None, None
        )
        assert (report.added, report.duplicates) == (0, VALID + QUARANTINED)


def test_a_full_outbox_pauses_polling_and_nothing_is_lost(tmp_path: Path, legacy: str) -> None:
    limits = Limits(max_records=10, max_bytes=10**9, disk_reserve_bytes=0)
    with Outbox(tmp_path / "o.db", limits) as outbox:
        p = pipeline(tmp_path, legacy, outbox, broken=True)
        [report] = p.poll()
        assert report.paused and "max_records" in report.paused
        assert outbox.paused
        captured = report.added
        assert captured < VALID
        for _ in range(10):  # deliver what is there, poll again, until the table is read
            seqs = [r.seq for r in outbox.pending_batch(100, 10**9)]
            outbox.mark_delivered(seqs)
            [report] = p.poll()
            captured += report.added
            if not report.paused and report.rows == 0:
                break
        assert captured == VALID
        assert outbox.paused is None


def test_a_row_corrected_in_the_legacy_system_leaves_the_quarantine(
    tmp_path: Path, legacy: str
) -> None:
    with Outbox(tmp_path / "o.db") as outbox:
        p = pipeline(tmp_path, legacy, outbox, broken=True)
        p.poll()
        conn = connect(legacy)
        # The clerk retypes the application time of row 3 in a format the mapping knows.
        conn.execute(
            "UPDATE T_SQ_SLXX SET SQRQ = '2026/09/01 10:00', XGSJ = '2026-11-01 00:00:00' "
            "WHERE ID = 3"
        )
        conn.close()
        [report] = p.poll()
        assert report.added == 1
        assert len(outbox.quarantine()) == QUARANTINED - 1
        assert all(e.row["ID"] != 3 for e in outbox.quarantine())
        assert [e.row["ID"] for e in outbox.quarantine("replayed")] == [3]
