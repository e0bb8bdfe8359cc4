"""From a legacy database to red cards and supervision matters, across real processes.

The agent delivers the demo department's cases; the collector's engine worker evaluates
the cases it received and issues cards; each card opens a supervision matter. The demo's
cases were accepted in September 2026 and every fifth one was never completed, so today
those are far past their limits: each must carry exactly one red card (red suppresses
yellow) and one matter. Refused cases (不受理) run no clock and get no card.

The agent sends its backlog in batches of 10 while the engine sweeps every second: a case's
acceptance arrives batches before its completion, and no completed case may get a card
meanwhile (the agent says it is behind, and the engine waits for it).
"""

from __future__ import annotations

import json
from pathlib import Path

from .processes import collector_json, judging_collector, run_cli, wait_until
from .scenario import Department, open_demo_cases

CASES = 60


def test_overdue_cases_get_one_red_card_and_one_matter_each(tmp_path: Path) -> None:
    with judging_collector(tmp_path) as (cdir, url, collector):
        dept = Department(tmp_path / "dept", url)
        dept.create(CASES, batch=10)
        dept.enrol(cdir)
        run_cli("esup-agent", "run", "-c", str(dept.config), "--once")

        open_cases = open_demo_cases(CASES)
        assert open_cases

        def reds() -> list[dict[str, object]]:
            verdicts = collector_json("verdicts", "list", "--data-dir", str(cdir))
            return [v for v in verdicts if v["kind"] == "red"]

        wait_until(lambda: len(reds()) >= len(open_cases), 90, "red cards", collector.log)
        cards = reds()
        assert sorted(str(v["case_id"]) for v in cards) == sorted(open_cases)
        verdicts = collector_json("verdicts", "list", "--data-dir", str(cdir))
        assert not [v for v in verdicts if v["kind"] == "yellow" and v["case_id"] in open_cases]

        matters = collector_json("supervision", "list", "--data-dir", str(cdir))
        assert sorted(str(m["case_id"]) for m in matters) == sorted(open_cases)
        assert all(m["state"] == "open" for m in matters)

        shown = json.loads(
            run_cli(
                "esup-collector", "case", "show", sorted(open_cases)[0], "--data-dir", str(cdir),
                "--json",
            ).stdout
        )  # fmt: skip
        assert shown["state"] == "overdue"
        assert {v["kind"] for v in shown["verdicts"]} >= {"red"}

        (agent,) = collector_json("agents", "list", "--data-dir", str(cdir))
        assert agent["behind_since"] is None and agent["backlog_records"] == 0
