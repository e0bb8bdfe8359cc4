"""Reconciliation on real legacy databases (SQLite3 ODBC and MariaDB Unicode ODBC): the
counts per record type and day, and rows committed behind the read position."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyodbc
import pytest

from agent.heartbeat import heartbeat_body
from agent.mapping import Mapping
from agent.metrics import render as metrics_text
from agent.pipeline import Pipeline
from agent.reconcile import ReconcileSettings, run_logged, run_pass
from agent.sources import SourceSettings, TableSettings
from agent.sources.positions import ReadLine
from agent.state import Limits, Outbox
from agent.status import collect, render
from exchange_spec import business_key, event_time, validate_record
from exchange_spec.recon import KeyDigest, event_day
from installer.legacy_demo_db import (
    SLXX_COLUMNS,
    connect,
    create_legacy_schema,
    demo_applications,
    insert_rows,
    sqlite_odbc,
)

from .agent_setup import write_mapping

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEPARTMENT = "114307020000000001"
HMAC = b"k" * 32


@dataclass
class Legacy:
    kind: str
    odbc: str
    conn: pyodbc.Connection

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        insert_rows(self.conn, "T_SQ_SLXX", SLXX_COLUMNS, rows)


@pytest.fixture(params=["sqlite", "mariadb"])
def legacy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Legacy]:
    if request.param == "sqlite":
        odbc = sqlite_odbc(tmp_path / "legacy.db")
    else:
        odbc = request.getfixturevalue("mariadb_database").odbc
    conn = connect(odbc)
    create_legacy_schema(conn, request.param)
    try:
        yield Legacy(request.param, odbc, conn)
    finally:
        conn.close()


def now_local() -> datetime:
    return datetime.now(SHANGHAI).replace(tzinfo=None, microsecond=0)


def recent_rows(n: int, *, first: int = 1) -> list[tuple[Any, ...]]:
    """Applications ``first..n``, the first of them three days ago, 37 minutes apart."""
    return demo_applications(n, now_local() - timedelta(days=3), first=first).applications


def source_settings(legacy: Legacy, mapping: Path, **table: Any) -> SourceSettings:
    spec = {
        "record_type": "SB",
        "table": "T_SQ_SLXX",
        "mode": "timestamp",
        "timestamp_column": "XGSJ",
        "key_column": "ID",
        "delay_seconds": 0,
        "reread_seconds": 600,
    } | table
    return SourceSettings(
        name="xzsp",
        connection=legacy.odbc,
        fetch_size=7,
        tables=(TableSettings(**spec),),
        mapping=str(mapping),
    )


def pipeline(tmp_path: Path, legacy: Legacy, outbox: Outbox, **table: Any) -> Pipeline:
    mapping = write_mapping(tmp_path / "mapping.toml", broken=True)
    return Pipeline.for_source(source_settings(legacy, mapping, **table), outbox, HMAC)


def expected(tmp_path: Path, rows: list[tuple[Any, ...]]) -> dict[str, dict[str, Any]]:
    """Per day: the keys of the valid records and the number of quarantined rows, by mapping
    each row directly (what the pass must find through the database)."""
    mapping = Mapping.load(write_mapping(tmp_path / "expect.toml", broken=True), hmac_key=HMAC)
    days: dict[str, dict[str, Any]] = defaultdict(lambda: {"keys": set(), "quarantined": 0})
    for values in rows:
        result = mapping.map_row("SB", dict(zip(SLXX_COLUMNS, values, strict=True)))
        if result.status == "excluded":
            continue
        record = result.record or {}
        day = event_day(event_time(record) if result.status == "ok" else record.get("SBSJ"))
        if day is None:  # the event time is what failed: the day of the change time
            day = values[-1].date()
        if day is None:
            continue
        if result.status == "ok":
            days[day.isoformat()]["keys"].add(business_key(record))
        else:
            days[day.isoformat()]["quarantined"] += 1
    return days


def bodies(outbox: Outbox) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in outbox.pending_batch(10**6, 10**9)]


def recons(outbox: Outbox) -> dict[str, dict[str, Any]]:
    """The latest RECON per day (later ones replace earlier ones, as at the collector)."""
    return {r["DAY"]: r for r in bodies(outbox) if r["type"] == "RECON"}


def test_counts_per_day_leave_out_secret_rows_and_count_quarantined_ones(
    tmp_path: Path, legacy: Legacy
) -> None:
    rows = recent_rows(90)
    legacy.insert(rows)
    want = expected(tmp_path, rows)
    assert sum(len(d["keys"]) for d in want.values()) > 30  # some of each kind below
    assert sum(d["quarantined"] for d in want.values()) > 10
    with Outbox(tmp_path / "o.db") as outbox:
        p = pipeline(tmp_path, legacy, outbox)
        result = run_pass([p], outbox, DEPARTMENT, ReconcileSettings(days=7))
        got = recons(outbox)
        assert not result.not_counted, result.not_counted
        assert len(got) == 7 and result.recon_records == 7  # every day, zero counts too
        for day, recon in got.items():
            assert validate_record(recon) == [], recon
            keys = want.get(day, {"keys": set(), "quarantined": 0})
            digest = KeyDigest()
            for key in sorted(keys["keys"]):
                digest.add(key)
            assert (recon["COUNT"], recon["QUARANTINED"], recon["DIGEST"]) == (
                len(keys["keys"]),
                keys["quarantined"],
                digest.hexdigest(),
            ), day
            assert recon["BMBM"] == DEPARTMENT and recon["SOURCE_TABLE"] == "T_SQ_SLXX"
        # The records counted are in the outbox BEFORE the RECON records (lower seqs), so
        # the collector holds them when it compares; secret-level rows are not there at all.
        sent = bodies(outbox)
        first_recon = next(i for i, r in enumerate(sent) if r["type"] == "RECON")
        assert all(r["type"] == "RECON" for r in sent[first_recon:])
        counted = {k for d in want.values() for k in d["keys"]}
        assert {business_key(r) for r in sent[:first_recon]} == counted
        assert result.missed == 0  # nothing was behind a read position: no poll ran yet


def test_rows_committed_behind_the_reread_window_are_found_captured_and_reported(
    tmp_path: Path, legacy: Legacy
) -> None:
    legacy.insert(recent_rows(40))
    with Outbox(tmp_path / "o.db") as outbox:
        p = pipeline(tmp_path, legacy, outbox)
        p.poll()
        before = {business_key(r) for r in bodies(outbox)}
        cursor = outbox.cursor("xzsp", "SB:T_SQ_SLXX")
        assert cursor is not None
        # A batch job commits rows stamped two hours before the cursor: behind the 600 s
        # re-read window, so no poll will ever read them.
        stamped = datetime.fromisoformat(cursor["ts"]).replace(tzinfo=None) - timedelta(hours=2)
        late = [(*row[:-1], stamped) for row in recent_rows(60, first=41)]
        legacy.insert(late)
        assert p.poll()[0].added == 0  # the bug: the poll never sees them
        lost = {business_key(r) for r in bodies(outbox)} - before
        assert lost == set()

        result = run_pass([p], outbox, DEPARTMENT, ReconcileSettings(days=7))
        want = expected(tmp_path, late)
        late_keys = {k for d in want.values() for k in d["keys"]}
        assert len(late_keys) > 5
        assert result.missed == len(late_keys)
        assert result.missed_by_table == {"SB:T_SQ_SLXX": len(late_keys)}
        assert late_keys <= {business_key(r) for r in bodies(outbox)}  # captured: not lost
        # Quarantined late rows are quarantined too (no poll will see them).
        late_ids = {row[0] for row in late}
        assert {e.row["ID"] for e in outbox.quarantine()} & late_ids

        # Department IT sees a count (never a key) in status and in the heartbeat.
        text = render(collect(outbox))
        assert f"对账发现 {len(late_keys)} 行" in text and "reread_seconds" in text
        beat = heartbeat_body(outbox, "front-end")
        assert beat["reconcile"]["missed"] == len(late_keys)
        assert not any(key.split("|")[1] in json.dumps(beat) for key in late_keys)

        # The next pass finds them held: nothing new; the total stays visible.
        again = run_pass([p], outbox, DEPARTMENT, ReconcileSettings(days=7))
        assert again.missed == 0
        assert heartbeat_body(outbox, "x")["reconcile"]["missed_total"] == len(late_keys)
        assert "以前的对账共发现" in render(collect(outbox))
        metric = f"esup_agent_reconcile_missed_total {len(late_keys)}"
        assert metric in metrics_text(collect(outbox)).splitlines()


def test_a_table_that_cannot_be_read_sends_no_count_for_its_type(
    tmp_path: Path, legacy: Legacy
) -> None:
    legacy.insert(recent_rows(20))
    with Outbox(tmp_path / "o.db") as outbox:
        p = pipeline(tmp_path, legacy, outbox)
        broken = TableSettings(
            record_type="SL", query="SELECT * FROM NO_SUCH_TABLE", mode="key", key_column="ID"
        )
        p.settings = replace(p.settings, tables=(*p.settings.tables, broken))
        result = run_pass([p], outbox, DEPARTMENT, ReconcileSettings(days=3))
        # A partial count would tell the collector that records are missing: none is sent
        # for SL; SB, read in full before it, is counted.
        assert {r["RECORD_TYPE"] for r in recons(outbox).values()} == {"SB"}
        assert result.recon_records == 3 and list(result.not_counted) == ["SL"]
        assert "SL not counted" in render(collect(outbox))


def test_catalogue_tables_are_not_counted(tmp_path: Path, legacy: Legacy) -> None:
    with Outbox(tmp_path / "o.db") as outbox:
        p = pipeline(tmp_path, legacy, outbox, record_type="SX", mode="snapshot")
        assert run_pass([p], outbox, DEPARTMENT, ReconcileSettings()).recon_records == 0


def _table(**kw: Any) -> TableSettings:
    base = TableSettings(
        record_type="SB", table="T", timestamp_column="TS", key_column="ID", reread_seconds=0
    )
    return replace(base, **kw)


def test_read_line_of_each_mode() -> None:
    cursor = {"ts": "2026-09-01T10:00:00+08:00", "key": 5}
    line = ReadLine(_table(), cursor, SHANGHAI)
    assert line.behind({"TS": "2026-09-01 09:59:59", "ID": 9})
    assert line.behind({"ts": datetime(2026, 9, 1, 10, 0), "id": 5})  # names folded
    assert not line.behind({"TS": "2026-09-01 10:00:00", "ID": 6})
    assert not line.behind({"TS": "not a time", "ID": 1})  # unsure: not behind
    window = ReadLine(_table(reread_seconds=600), cursor, SHANGHAI)
    assert not window.behind({"TS": "2026-09-01 09:55:00", "ID": 1})  # the next poll reads it
    assert window.behind({"TS": "2026-09-01 09:49:59", "ID": 1})
    keyed = ReadLine(_table(mode="key"), {"key": 5}, SHANGHAI)
    assert keyed.behind({"ID": 5}) and not keyed.behind({"ID": 6})
    assert not keyed.behind({"ID": "x"})  # not comparable: not known to be behind
    assert not ReadLine(_table(mode="snapshot"), None, SHANGHAI).behind({"ID": 1})
    assert not ReadLine(_table(), None, SHANGHAI).behind({"TS": "2000-01-01", "ID": 1})


def test_a_row_inserted_below_the_key_cursor_is_found(tmp_path: Path, legacy: Legacy) -> None:
    rows = recent_rows(30)
    legacy.insert([r for r in rows if r[0] != 7])  # row 7 commits late, with its old key
    with Outbox(tmp_path / "o.db") as outbox:
        p = pipeline(tmp_path, legacy, outbox, mode="key", timestamp_column=None)
        p.poll()
        legacy.insert([r for r in rows if r[0] == 7])
        assert p.poll()[0].rows == 0  # a key below the cursor: no poll reads it
        result = run_pass([p], outbox, DEPARTMENT, ReconcileSettings())
        [key] = expected(tmp_path, [r for r in rows if r[0] == 7]).popitem()[1]["keys"]
        assert result.missed == 1 and key in {business_key(r) for r in bodies(outbox)}


def test_a_full_outbox_stops_the_pass_before_any_count_is_sent(
    tmp_path: Path, legacy: Legacy
) -> None:
    legacy.insert(recent_rows(40))
    limits = Limits(max_records=10, max_bytes=10**9, disk_reserve_bytes=0)
    with Outbox(tmp_path / "o.db", limits) as outbox:
        p = pipeline(tmp_path, legacy, outbox)
        result = run_logged([p], outbox, DEPARTMENT, ReconcileSettings())
        assert result is not None and "outbox full" in result.not_counted["SB"]
        assert recons(outbox) == {}  # counts of a half-read table would be false alarms
        assert any(e["where"] == "reconcile" for e in outbox.last_errors())
        assert outbox.paused
