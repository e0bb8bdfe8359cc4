"""The agent's state through what department IT really does to it, with the collector and the
agent as separate processes: a clerk corrects rows while the agent is SIGKILLed between capture
and delivery, and the state directory is restored from a backup.

Each test ends with every record exactly once at the collector: the keys the legacy rows
produce, one stored version per record (plus the corrections), and delivery seqs 1..N with
neither gap nor reuse."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyodbc
from sqlalchemy import text

from installer import legacy_demo_db as legacy

from .processes import Proc, collector_proc, free_port, run_cli, wait_http, wait_until
from .scenario import CollectorStore, Department

CASES = 300
CORRECTED = (3, 8, 11, 13, 17)  # legacy row IDs a clerk corrects (accepted, sent, not secret)


def sl_key(i: int) -> str:
    return f"SL|43070203012026{i:06d}"


def correct(dept: Department, ids: tuple[int, ...], at: datetime, **columns: str) -> None:
    """A clerk's UPDATE of the legacy rows, stamped with their change time."""
    sets = ", ".join(f"{c} = ?" for c in columns)
    conn = pyodbc.connect(legacy.sqlite_odbc(dept.db), autocommit=True)
    try:
        for i in ids:
            conn.execute(
                f"UPDATE T_SQ_SLXX SET {sets}, XGSJ = ? WHERE ID = ?", *columns.values(), at, i
            )
    finally:
        conn.close()


def current_sl(store: CollectorStore, i: int) -> tuple[int, dict[str, object]]:
    with store.engine.connect() as conn:
        row = conn.execute(
            text("SELECT sjbbh, body FROM records_current WHERE business_key = :k"),
            {"k": sl_key(i)},
        ).one()
    body = row.body if isinstance(row.body, dict) else json.loads(row.body)
    return int(row.sjbbh), body


def pending(dept: Department) -> int:
    out = run_cli("esup-agent", "status", "-c", str(dept.config), "--json").stdout
    return int(json.loads(out)["outbox"]["pending"])


def assert_exactly_once(store: CollectorStore, expected: set[str], corrections: int) -> None:
    current = store.current_keys()
    assert set(current) == expected and len(current) == len(expected)
    assert len(store.version_keys()) == len(expected) + corrections, "a record was stored twice"
    seqs = store.delivery_seqs()
    assert sorted(seqs) == list(range(1, len(seqs) + 1)), "a seq was lost or reused"
    assert store.scalar("SELECT COUNT(*) FROM invalid_records") == 0
    assert store.scalar("SELECT COUNT(*) FROM deliveries WHERE status = 'rejected'") == 0


def run_until(agent: Proc, check: object, what: str) -> None:
    agent.start()
    wait_until(check, 240, what, agent.log)  # type: ignore[arg-type]


@dataclass
class Site:
    """A collector process and one department whose agent is enrolled with it."""

    cdir: Path
    port: int
    collector: Proc
    dept: Department
    store: CollectorStore
    agents: list[Proc] = field(default_factory=list)

    def agent(self) -> Proc:
        """A new agent process (killed at the end of the test whatever happens)."""
        self.agents.append(self.dept.agent())
        return self.agents[-1]

    def start_collector(self) -> None:
        self.collector = collector_proc(self.cdir, self.port).start()
        wait_http(f"http://127.0.0.1:{self.port}/healthz", 60, self.collector.log)


@contextmanager
def site(tmp_path: Path) -> Iterator[Site]:
    cdir = tmp_path / "collector"
    cdir.mkdir()
    port = free_port()
    dept = Department(tmp_path / "dept", f"http://127.0.0.1:{port}")
    store = CollectorStore(f"sqlite:///{cdir / 'collector.db'}")
    it = Site(cdir, port, collector_proc(cdir, port), dept, store)
    try:
        it.start_collector()
        dept.create(CASES)
        dept.enrol(cdir)
        yield it
    finally:
        for agent in it.agents:
            agent.kill()
        it.collector.kill()
        store.close()


def test_corrections_survive_a_sigkill_between_capture_and_delivery(tmp_path: Path) -> None:
    with site(tmp_path) as it:
        dept, store = it.dept, it.store
        expected = dept.expected_keys(CASES)
        agent = it.agent()
        run_until(
            agent,
            lambda: store.scalar("SELECT COUNT(*) FROM records_current") >= len(expected),
            "the first delivery",
        )
        assert all(current_sl(store, i)[1]["SLZTDM"] == "1" for i in CORRECTED)

        # The collector goes away; a clerk changes the acceptance status 01 -> 04; the agent
        # captures the corrections and is SIGKILLed before it could deliver them.
        it.collector.kill()
        correct(dept, CORRECTED, datetime(2026, 11, 1, 9, 0), ZT="04", BSLYY="材料不全")
        wait_until(lambda: pending(dept) >= len(CORRECTED), 120, "the capture", agent.log)
        agent.kill()
        # Corrected again while the agent is down: v2 still pending when v3 is captured.
        correct(dept, CORRECTED[:2], datetime(2026, 11, 2, 9, 0), BLR="王更正")

        it.start_collector()
        agent = it.agent()
        run_until(
            agent,
            lambda: (
                all(current_sl(store, i)[0] == 3 for i in CORRECTED[:2])
                and all(current_sl(store, i)[0] == 2 for i in CORRECTED[2:])
            ),
            "the corrections to become current",
        )
        assert agent.terminate() == 0, agent.log.read_text()[-3000:]
        for i in CORRECTED:
            sjbbh, body = current_sl(store, i)
            assert body["SLZTDM"] == "4" and body["SJBBH"] == sjbbh
        assert all(current_sl(store, i)[1]["BLRXM"] == "王更正" for i in CORRECTED[:2])
        assert_exactly_once(store, expected, corrections=len(CORRECTED) + 2)
        assert "Traceback" not in agent.log.read_text()


def test_a_state_directory_restored_from_a_backup_loses_nothing(tmp_path: Path) -> None:
    with site(tmp_path) as it:
        dept, store = it.dept, it.store

        def holds(cases: int) -> bool:
            return store.current_keys_count() >= len(dept.expected_keys(cases))

        agent = it.agent()
        run_until(agent, lambda: holds(CASES), "the first delivery")
        assert agent.terminate() == 0
        backup = tmp_path / "backup"
        shutil.copytree(dept.root / "state", backup)

        dept.add_cases(CASES + 1, CASES + 40)  # about 90 records, delivered after the backup
        agent = it.agent()
        run_until(agent, lambda: holds(CASES + 40), "the records after the backup")
        assert agent.terminate() == 0
        last_before = max(store.delivery_seqs())

        shutil.rmtree(dept.root / "state")
        shutil.copytree(backup, dept.root / "state")  # the restore
        dept.add_cases(CASES + 41, CASES + 80)  # and new work arrives
        agent = it.agent()
        run_until(agent, lambda: holds(CASES + 80), "every record after the restore")
        wait_until(lambda: pending(dept) == 0, 120, "the outbox to empty", agent.log)
        assert agent.terminate() == 0, agent.log.read_text()[-3000:]

        assert_exactly_once(store, dept.expected_keys(CASES + 80), corrections=0)
        assert max(store.delivery_seqs()) > last_before
        status = json.loads(
            run_cli("esup-agent", "status", "-c", str(dept.config), "--json").stdout
        )
        assert status["outbox"]["rejected"] == 0
        assert status["collector_last_seq"] >= last_before
