"""`esup-agent run` logs what happened, not that time passed.

It used to log two APScheduler lines every second and httpx one per request (664 of 807
lines in four minutes). A real agent delivers a legacy database to a real collector; its
log says once what it captured and delivered, and then nothing while nothing happens,
though it keeps polling (with a re-read window), ticking the pusher and sending
heartbeats.
"""

from __future__ import annotations

import time
from pathlib import Path

from .processes import collector_proc, free_port, wait_http, wait_until
from .scenario import CollectorStore, Department

CASES = 30
QUIET_SECONDS = 6  # six polls, six push ticks and at least one heartbeat


def lines(log: Path) -> list[str]:
    return [line for line in log.read_text("utf-8").splitlines() if line.strip()]


def test_a_running_agent_logs_one_line_per_poll_and_push_that_moved_records(
    tmp_path: Path,
) -> None:
    port = free_port()
    cdir = tmp_path / "collector"
    cdir.mkdir()
    collector = collector_proc(cdir, port).start()
    store = CollectorStore(f"sqlite:///{cdir / 'collector.db'}")
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 60, collector.log)
        dept = Department(tmp_path / "dept", f"http://127.0.0.1:{port}")
        dept.create(CASES, batch=1000)
        dept.enrol(cdir)
        expected = dept.expected_keys(CASES)
        agent = dept.agent().start()
        try:
            wait_until(
                lambda: store.scalar("SELECT COUNT(*) FROM records_current") >= len(expected),
                120,
                "every record delivered",
                agent.log,
            )
            wait_until(lambda: any("delivered" in x for x in lines(agent.log)), 30, "push line")
            before = lines(agent.log)
            time.sleep(QUIET_SECONDS)
            after = lines(agent.log)
        finally:
            assert agent.terminate() == 0
        stopped = lines(agent.log)
    finally:
        collector.kill()
        store.close()

    assert after == before, "\n".join(after[len(before) :])  # quiet while nothing happens
    assert not [x for x in stopped if "apscheduler" in x or "httpx" in x or "HTTP Request" in x]
    polls = [x for x in stopped if "poll legacy:" in x]
    pushes = [x for x in stopped if " push: " in x]
    assert polls and all("new record(s)" in x for x in polls)
    assert sum(int(x.split("poll legacy: ")[1].split()[0]) for x in polls) == len(expected)
    delivered = sum(int(x.split(" batch(es), ")[1].split()[0]) for x in pushes)
    assert pushes and delivered == len(expected)
    # Started, the captures, the deliveries, the signal, stopped: nothing else.
    assert len(stopped) == 1 + len(polls) + len(pushes) + 2, "\n".join(stopped)
