"""The demo: a collector on a local SQLite file and one agent per demo department.

Each department has a legacy approval database (SQLite, read through the SQLite ODBC
driver) with the tables of an old approval system; new cases keep appearing in them while
the demo runs. The agents capture, map, sign and deliver them to the collector, all as
separate processes speaking HTTP, exactly as in production.

    python -m installer.demo [--workdir var/demo] [--port 8470] [--duration SECONDS]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path

from installer import legacy_demo_db as legacy

BIN = Path(sys.executable).parent
#: XZQHDM of the demo mapping (agent/mapping/examples/legacy_demo.toml): 武陵区.
REGION = "430702"


@dataclass(frozen=True)
class Department:
    code: str  # BMBM
    short: str  # the department's part of the case number
    name: str

    @property
    def case_number_prefix(self) -> str:
        """Region + department part: how every case number of the department starts."""
        return f"{REGION}{self.short}"


DEPARTMENTS = (
    Department("114307020000000001", "0301", "常德市武陵区市场监督管理局"),
    Department("114307020000000002", "0302", "常德市武陵区住房和城乡建设局"),
)


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"demo: `{' '.join(args)}` failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def _mapping_for(dept: Department) -> str:
    text = (resources.files("agent.mapping") / "examples" / "legacy_demo.toml").read_text("utf-8")
    return text.replace("114307020000000001", dept.code).replace(
        'BMBM_SHORT = { constant = "0301" }', f'BMBM_SHORT = {{ constant = "{dept.short}" }}'
    )


def _agent_config(dept: Department, db: Path, url: str, metrics_port: int) -> str:
    tables = "".join(
        f"""
[[sources.tables]]
record_type = "{rtype}"
{source}
mode = "timestamp"
timestamp_column = "XGSJ"
key_column = "ID"
delay_seconds = 2          # demo: short, so new cases show at once (production: 60)
"""
        for rtype, source in (
            ("SB", 'table = "T_SQ_SLXX"'),
            ("SL", 'table = "T_SQ_SLXX"'),
            ("BJ", f'query = "{legacy.BJ_QUERY}"'),
        )
    )
    return f"""# Demo agent of {dept.name}
[agent]
department = "{dept.code}"
state_dir = "state"
name = "demo-{dept.short}"

[collector]
url = "{url}"

[push]
interval_seconds = 2

[heartbeat]
interval_seconds = 10

[metrics]
enabled = true
listen = "127.0.0.1:{metrics_port}"

[[sources]]
name = "legacy"
connection = "Driver={{SQLite3}};Database={db}"
mapping = "mapping.toml"
poll_seconds = 3
{tables}"""


def _collector_counts(db: Path) -> dict[str, int]:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            rows = conn.execute(
                "SELECT department, COUNT(*) FROM records_current GROUP BY department"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return {}
    return {str(d): int(n) for d, n in rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="var/demo", help="where the demo keeps its files")
    parser.add_argument("--port", type=int, default=8470, help="collector port (8470)")
    parser.add_argument("--cases", type=int, default=60, help="cases already in each legacy DB")
    parser.add_argument("--duration", type=float, default=0, help="stop after N s (0: Ctrl-C)")
    parser.add_argument("--new-case-seconds", type=float, default=3.0, help="new case interval")
    args = parser.parse_args(argv)

    work = Path(args.workdir).resolve()
    if work.exists():
        shutil.rmtree(work)  # the demo always starts from fresh demo data
    work.mkdir(parents=True)
    port = args.port if _port_free(args.port) else _free_port()
    url = f"http://127.0.0.1:{port}"
    cdir = work / "collector"
    cdir.mkdir()

    procs: list[subprocess.Popen[bytes]] = []

    def stop(*_: object) -> None:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        print(f"esupervision demo in {work}")
        log = (cdir / "collector.log").open("ab")
        procs.append(
            subprocess.Popen(
                [
                    str(BIN / "esup-collector"),
                    "serve",
                    "--data-dir",
                    str(cdir),
                    "--port",
                    str(port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        _wait_port(port, procs[0], cdir / "collector.log")
        print(f"  collector   {url}  (store {cdir / 'collector.db'})")

        dbs: list[Path] = []
        for n, dept in enumerate(DEPARTMENTS):
            adir = work / f"agent-{dept.short}"
            adir.mkdir()
            db = adir / "legacy.db"
            legacy.create_legacy_sqlite(db, args.cases, department=n)
            dbs.append(db)
            (adir / "mapping.toml").write_text(_mapping_for(dept), "utf-8")
            metrics_port = _free_port()
            (adir / "agent.toml").write_text(_agent_config(dept, db, url, metrics_port), "utf-8")
            # The bureau registers whose case numbers are whose before any agent sends.
            _run(
                str(BIN / "esup-collector"), "departments", "add-prefix", "--data-dir", str(cdir),
                dept.code, dept.case_number_prefix, "--name", dept.name, "--by", "demo",
            )  # fmt: skip
            token_out = _run(
                str(BIN / "esup-collector"), "agents", "token", "--data-dir", str(cdir),
                "--department", dept.code, "--name", dept.name, "--created-by", "demo",
            )  # fmt: skip
            token = next(
                line.split()[1] for line in token_out.splitlines() if line.startswith("token:")
            )
            _run(str(BIN / "esup-agent"), "enrol", "-c", str(adir / "agent.toml"), "--token", token)
            alog = (adir / "agent.log").open("ab")
            procs.append(
                subprocess.Popen(
                    [str(BIN / "esup-agent"), "run", "-c", str(adir / "agent.toml")],
                    stdout=alog,
                    stderr=subprocess.STDOUT,
                    cwd=adir,
                )
            )
            print(f"  agent       {dept.name} ({dept.code})")
            print(f"              legacy DB {db}; metrics http://127.0.0.1:{metrics_port}/metrics")

        print("\nWhere to look:")
        print(f"  esup-collector agents list --data-dir {cdir}")
        for dept in DEPARTMENTS:
            print(f"  esup-agent status -c {work / f'agent-{dept.short}' / 'agent.toml'}")
        print(f"  logs: {work}/*/*.log")
        print("New cases appear in the legacy databases every few seconds. Ctrl-C stops.\n")

        started = time.monotonic()
        next_case = args.cases + 1
        last_report = 0.0
        while not args.duration or time.monotonic() - started < args.duration:
            for n, db in enumerate(dbs):
                legacy.add_live_case(db, next_case, datetime.now(), department=n)
            next_case += 1
            if time.monotonic() - last_report >= 10:
                counts = _collector_counts(cdir / "collector.db")
                held = ", ".join(f"{d.name}: {counts.get(d.code, 0)}" for d in DEPARTMENTS)
                print(f"  [{datetime.now():%H:%M:%S}] collector holds records: {held}", flush=True)
                last_report = time.monotonic()
            for p in procs:
                if p.poll() is not None:
                    raise SystemExit(f"demo: a process stopped unexpectedly: {p.args}")
            time.sleep(args.new_case_seconds)
    except KeyboardInterrupt:
        print("\nstopping ...")
    finally:
        stop()
    counts = _collector_counts(cdir / "collector.db")
    for d in DEPARTMENTS:
        print(f"  {d.name}: {counts.get(d.code, 0)} records at the collector")
    return 0


def _wait_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"demo: the collector did not start; see {log}")
        if not _port_free(port):
            return
        time.sleep(0.2)
    raise SystemExit(f"demo: the collector did not open port {port} within 60 s; see {log}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
