"""Rows committed behind the re-read window, across real processes: the agent's polls never
read them (as in the test where 1,544 of 6,707 rows were silently never read); its
reconciliation pass finds them in the legacy database, warns in ``esup-agent status`` and the
heartbeat with their number, captures them, and the collector's RECON comparison agrees.

The collector (``esup-collector serve``, engine sweeping every second) and the agent
(``esup-agent run``, reconciling at start and then every minute) are separate processes
speaking HTTP; the legacy database is SQLite through the SQLite3 ODBC driver.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text

from installer import legacy_demo_db as legacy

from .processes import collector_json, judging_collector, run_cli, wait_until
from .scenario import CollectorStore, Department, agent_config

CASES, LOST = 40, 12


def _rows(start: datetime) -> legacy.DemoRows:
    return legacy.demo_applications(CASES, start)


def test_rows_behind_the_reread_window_are_warned_about_captured_and_reconciled(
    tmp_path: Path,
) -> None:
    now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None, microsecond=0)
    start = now - timedelta(days=6)  # the cases and their completions lie in the 7 days counted
    first = _rows(start)
    with judging_collector(tmp_path) as (cdir, url, collector):
        dept = Department(tmp_path / "dept", url)
        dept.root.mkdir(parents=True)
        conn = legacy.connect(legacy.sqlite_odbc(dept.db))
        legacy.create_legacy_schema(conn, "sqlite")
        legacy.fill_legacy(conn, first)
        dept.config.write_text(agent_config(dept.db, url, reconcile=True), "utf-8")
        dept.enrol(cdir)
        store = CollectorStore(f"sqlite:///{cdir / 'collector.db'}")
        agent = dept.agent().start()
        try:
            expected = dept.expected_keys(CASES, first)
            wait_until(
                lambda: set(store.current_keys()) == expected, 120, "the first records", agent.log
            )
            wait_until(
                lambda: store.scalar("SELECT COUNT(*) FROM recon_reports WHERE agrees") == 21,
                120,
                "the first counts (3 record types x 7 days) to agree",
                agent.log,
            )

            # A batch job commits more applications stamped two hours before the newest row
            # the agent read: behind its 600 s re-read window.
            newest = max(row[-1] for row in first.applications)
            lost_rows = legacy.demo_applications(CASES + LOST, start, first=CASES + 1)
            stamped = [(*row[:-1], newest - timedelta(hours=2)) for row in lost_rows.applications]
            legacy.insert_rows(conn, "T_SQ_SLXX", legacy.SLXX_COLUMNS, stamped)
            conn.close()
            lost = dept.expected_keys(0, legacy.DemoRows(stamped, [])) - expected
            assert len(lost) > LOST  # SB and SL records, less secret-level ones

            # Before reconciliation nothing brings them. Each poll re-reads the newest rows
            # of its re-read window (counted as duplicates): five more polls of each table.
            def rereads() -> int:
                out = run_cli("esup-agent", "status", "-c", str(dept.config), "--json").stdout
                return int(json.loads(out)["counters"].get("duplicates", 0))

            before = rereads()
            wait_until(lambda: rereads() >= before + 15, 60, "five more polls", agent.log)
            assert not lost & set(store.current_keys()), "a poll read rows behind its window"

            # The next pass (a minute after the first) finds, warns and captures them.
            wait_until(lambda: lost <= set(store.current_keys()), 150, "the lost rows", agent.log)
            assert len(store.current_keys()) == len(expected | lost)  # nothing doubled
            status = run_cli("esup-agent", "status", "-c", str(dept.config)).stdout
            assert f"对账发现 {len(lost)} 行" in status or "以前的对账共发现" in status
            as_json = json.loads(
                run_cli("esup-agent", "status", "-c", str(dept.config), "--json").stdout
            )
            assert as_json["reconcile"]["missed_total"] == len(lost)

            def heartbeat() -> dict[str, object]:
                engine = create_engine(f"sqlite:///{cdir / 'collector.db'}")
                try:
                    with engine.connect() as c:
                        body = c.execute(text("SELECT last_heartbeat FROM agents")).scalar_one()
                finally:
                    engine.dispose()
                return json.loads(body) if isinstance(body, str) else dict(body or {})

            def reported() -> object:
                figures = heartbeat().get("reconcile")
                return figures.get("missed_total") if isinstance(figures, dict) else None

            wait_until(lambda: reported() == len(lost), 30, "a heartbeat with the count", agent.log)
            beat = json.dumps(heartbeat(), ensure_ascii=False)
            assert not any(key.split("|")[1] in beat for key in lost)  # a count, never keys

            # The collector's comparison agrees for every type and day, and no
            # disagreement is left open.
            def agreeing() -> bool:
                return (
                    store.scalar(
                        "SELECT COUNT(*) FROM recon_reports WHERE agrees AND held_count > 0"
                    )
                    > 0
                    and store.scalar("SELECT COUNT(*) FROM recon_reports WHERE NOT agrees") == 0
                    and store.scalar("SELECT COALESCE(SUM(agent_count), 0) FROM recon_reports")
                    == len(expected | lost)
                )

            wait_until(agreeing, 60, "the counts to agree", agent.log)
            verdicts = collector_json("verdicts", "list", "--data-dir", str(cdir))
            assert [
                v for v in verdicts if v["code"] == "counts_disagree" and not v["resolved"]
            ] == []
        finally:
            assert agent.terminate() == 0, agent.log.read_text()[-3000:]
            store.close()
    assert collector.log.exists()
