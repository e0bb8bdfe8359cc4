"""Real processes for cross-process tests: the collector and agents as separate programs.

Each process runs in its own process group with its output in a log file, so a test can
SIGKILL it at any moment and show the log when something goes wrong.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, log: Path | None = None
) -> None:
    """Poll ``check`` until it holds; fail with ``what`` (and the log's tail) on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}")


@dataclass
class Proc:
    """A program we started; ``kill()`` is SIGKILL of its whole process group."""

    args: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        env = {**os.environ, **self.env}
        out = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        out.close()
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        if self.alive:
            assert self.popen is not None
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def terminate(self, timeout: float = 20) -> int:
        assert self.popen is not None
        if self.alive:
            os.killpg(self.popen.pid, signal.SIGTERM)
        return self.popen.wait(timeout=timeout)


def collector_proc(data_dir: Path, port: int, store_url: str | None = None) -> Proc:
    args = [
        str(BIN / "esup-collector"),
        "serve",
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if store_url:
        args += ["--store", store_url]
    return Proc(args, data_dir / "collector.log")


def wait_http(url: str, timeout: float, log: Path | None = None) -> None:
    def up() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    wait_until(up, timeout, f"{url} to answer", log)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run one of our console scripts to completion; fail loudly with its output."""
    prog = str(BIN / args[0])
    done = subprocess.run(
        [prog, *args[1:]],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done


@contextmanager
def judging_collector(tmp_path: Path) -> Iterator[tuple[Path, str, Proc]]:
    """A collector whose engine sweeps its dirty cases every second; yields its data dir,
    URL and process, and SIGKILLs it at the end."""
    port = free_port()
    cdir = tmp_path / "collector"
    cdir.mkdir()
    collector = collector_proc(cdir, port)
    collector.env["ESUP_COLLECTOR_ENGINE_DIRTY_SECONDS"] = "1"
    collector.start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz", 60, collector.log)
        yield cdir, url, collector
    finally:
        collector.kill()


def collector_json(*args: str) -> list[dict[str, object]]:
    """An ``esup-collector`` command's ``--json`` output."""
    return json.loads(run_cli("esup-collector", *args, "--json").stdout)  # type: ignore[no-any-return]
