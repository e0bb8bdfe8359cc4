"""The agent is SIGKILLed at random moments while it captures and delivers thousands of
records, and restarted each time: the collector ends with every record exactly once."""

from __future__ import annotations

import random
import time
from pathlib import Path

from .processes import collector_proc, free_port, wait_http, wait_until
from .scenario import CollectorStore, Department

CASES_FIRST = 2500
CASES_TOTAL = 3000


def test_agent_killed_and_restarted_delivers_every_record_exactly_once(tmp_path: Path) -> None:
    port = free_port()
    cdir = tmp_path / "collector"
    cdir.mkdir()
    collector = collector_proc(cdir, port).start()
    try:
        wait_http(f"http://127.0.0.1:{port}/", 60, collector.log)
        dept = Department(tmp_path / "dept", f"http://127.0.0.1:{port}")
        dept.create(CASES_FIRST)
        dept.enrol(cdir)
        store = CollectorStore(f"sqlite:///{cdir / 'collector.db'}")
        rng = random.Random(20261130)

        for round_ in range(6):
            agent = dept.agent().start()
            time.sleep(rng.uniform(0.3, 2.5))
            agent.kill()  # SIGKILL: no chance to tidy up
            if round_ == 2:  # new cases arrive while the agent is down
                dept.add_cases(CASES_FIRST + 1, CASES_TOTAL)

        expected = dept.expected_keys(CASES_TOTAL)
        assert len(expected) > 6000
        agent = dept.agent().start()
        try:
            wait_until(
                lambda: store.scalar("SELECT COUNT(*) FROM records_current") >= len(expected),
                240,
                "the collector to hold every record",
                agent.log,
            )
            time.sleep(3)  # anything still in flight would show up as a double now
        finally:
            assert agent.terminate() == 0, agent.log.read_text()[-3000:]

        current = store.current_keys()
        versions = store.version_keys()
        seqs = store.delivery_seqs()
        assert set(current) == expected
        assert len(current) == len(expected)
        assert len(versions) == len(expected), "a record was stored twice"
        # Each record got exactly one sequence number at capture and none was lost or
        # reused: the collector's deliveries are exactly 1..N.
        assert sorted(seqs) == list(range(1, len(expected) + 1))
        assert store.scalar("SELECT COUNT(*) FROM invalid_records") == 0
        store.close()
    finally:
        collector.kill()
