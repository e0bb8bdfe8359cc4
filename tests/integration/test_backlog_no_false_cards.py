"""An agent cut off part way through its backlog: no completed case gets a card meanwhile.

The agent's first run sends 60 demo cases in batches of 10: the SB records, then SL
(acceptance), then BJ (completion). A gate between agent and collector lets 9 batches through
(so the collector holds half the acceptances and no completion) and then answers 503, as a
collector whose store is down does. The collector, its engine sweeping every second, and an
explicit full sweep must issue no card while the agent says it is behind; once the gate opens
and the agent's next run delivers the rest, exactly the never-completed cases get their red
card. Without the wait, every completed case among the first 30 got a wrong red card.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from sqlalchemy import create_engine, select

from collector.store.tables import records_current

from .gate import BatchGate
from .processes import BIN, collector_json, judging_collector, wait_until
from .scenario import Department, open_demo_cases

CASES = 60


def _record_types(cdir: Path) -> set[str]:
    store = create_engine(f"sqlite:///{cdir / 'collector.db'}")
    try:
        with store.connect() as conn:
            return set(conn.execute(select(records_current.c.record_type).distinct()).scalars())
    finally:
        store.dispose()


def _agent_once(config: Path) -> int:
    done = subprocess.run(
        [str(BIN / "esup-agent"), "run", "-c", str(config), "--once"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode


def _full_sweep(cdir: Path) -> str:
    """``rules run`` until it gets the sweep lock (the collector's own sweeps take turns)."""
    out: list[str] = []

    def ran() -> bool:
        done = subprocess.run(
            [str(BIN / "esup-collector"), "rules", "run", "--data-dir", str(cdir),
             "--workers", "1"],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode in (0, 75), done.stdout + done.stderr
        out.append(done.stdout)
        return done.returncode == 0

    wait_until(ran, 60, "a full sweep of our own")
    return out[-1]


def test_no_card_while_the_agent_is_behind_and_exactly_the_open_cases_after(
    tmp_path: Path,
) -> None:
    with judging_collector(tmp_path) as (cdir, url, collector):
        with BatchGate(url, let_through=9) as gate:
            dept = Department(tmp_path / "dept", gate.url)
            dept.create(CASES, batch=10)
            dept.enrol(cdir)

            assert _agent_once(dept.config) == 1  # its push failed at the closed gate
            assert gate.forwarded == 9 and gate.refused >= 1
            assert {"SL"} <= _record_types(cdir) and "BJ" not in _record_types(cdir)

            summary = _full_sweep(cdir)
            assert "still sending its backlog" in summary
            verdicts = collector_json("verdicts", "list", "--data-dir", str(cdir))
            assert [v for v in verdicts if v["kind"] in ("warning", "yellow", "red")] == []
            (agent,) = collector_json("agents", "list", "--data-dir", str(cdir))
            assert agent["behind_since"] is not None and agent["backlog_records"] > 0

            gate.open()
            assert _agent_once(dept.config) == 0

        open_cases = open_demo_cases(CASES)

        def reds() -> list[str]:
            verdicts = collector_json("verdicts", "list", "--data-dir", str(cdir))
            return sorted(str(v["case_id"]) for v in verdicts if v["kind"] == "red")

        wait_until(lambda: len(reds()) >= len(open_cases), 60, "red cards", collector.log)
        _full_sweep(cdir)  # and a full sweep of our own finds nothing more to card
        assert reds() == sorted(open_cases)
        verdicts = collector_json("verdicts", "list", "--data-dir", str(cdir))
        assert not [v for v in verdicts if v["kind"] == "yellow" and v["case_id"] in open_cases]
        (agent,) = collector_json("agents", "list", "--data-dir", str(cdir))
        assert agent["behind_since"] is None and agent["backlog_records"] == 0
