"""The README's first command: the demo starts a collector and two agents, cases flow."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from .processes import free_port


def test_demo_delivers_both_departments_cases_to_the_collector(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "installer.demo", "--workdir", str(work), "--cases", "30",
         "--port", str(free_port()), "--duration", "25", "--new-case-seconds", "1"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "Where to look:" in out and "esup-collector agents list" in out
    held = {
        name: int(n)
        for name, n in re.findall(r"^  (\S+): (\d+) records at the collector$", out, re.M)
    }
    assert set(held) == {"常德市武陵区市场监督管理局", "常德市武陵区住房和城乡建设局"}
    # 30 cases already there give 27 SB + 27 SL + 24 BJ = 78 (secret-level ones excluded);
    # more means cases entered while the demo ran have arrived too.
    assert all(n >= 78 + 10 for n in held.values()), out
    for agent_dir in ("agent-0301", "agent-0302"):
        assert (work / agent_dir / "state").is_dir()
    # The bureau's register says whose case numbers are whose; nothing was refused as foreign.
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "esup-collector"), "departments", "list", "--json",
         "--data-dir", str(work / "collector")],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    prefixes = {d["code"]: d["case_number_prefixes"] for d in json.loads(listed.stdout)}
    assert prefixes == {
        "114307020000000001": ["4307020301"],
        "114307020000000002": ["4307020302"],
    }
    refused = subprocess.run(
        [str(Path(sys.executable).parent / "esup-collector"), "records", "refused", "--json",
         "--code", "foreign_case", "--data-dir", str(work / "collector")],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(refused.stdout) == []
