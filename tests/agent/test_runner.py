"""``esup-agent run`` as a real process: scheduler, metrics endpoint, graceful SIGTERM."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from agent.metrics import MetricsServer, render
from agent.state import OUTBOX_FILE, Outbox, OutboxRecord
from agent.status import collect
from installer.legacy_demo_db import create_legacy_sqlite

from .agent_setup import enrolled, sb_records, sqlite_source, write_config, write_mapping
from .fake_collector import FakeCollector, FakeCollectorServer

ESUP_AGENT = str(Path(sys.executable).parent / "esup-agent")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_metrics_endpoint_serves_prometheus_text_on_localhost(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as outbox:
        outbox.commit_chunk("s", "t", [OutboxRecord.from_record(r) for r in sb_records(3)])
        outbox.statistics.set_paused("outbox full")
        server = MetricsServer(outbox, "127.0.0.1", 0)
        server.start()
        try:
            response = httpx.get(f"http://127.0.0.1:{server.port}/metrics")
        finally:
            server.stop()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = response.text.splitlines()
    assert "esup_agent_outbox_pending 3" in lines
    assert "esup_agent_paused 1" in lines
    assert "esup_agent_records_captured_total 3" in lines
    assert "# TYPE esup_agent_push_failures_total counter" in lines


def test_metrics_text_has_help_and_type_for_every_figure(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as outbox:
        text = render(collect(outbox))
    names = [line.split()[0] for line in text.splitlines() if not line.startswith("#")]
    for name in names:
        assert f"# HELP {name} " in text and f"# TYPE {name} " in text


@pytest.mark.slow
def test_run_delivers_serves_metrics_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    odbc = create_legacy_sqlite(tmp_path / "legacy.db", n=50)
    write_mapping(tmp_path / "mapping.toml")
    port = free_port()
    fake = FakeCollector()
    with FakeCollectorServer(fake) as server:
        config = write_config(
            tmp_path,
            server.url,
            sources=sqlite_source(odbc, Path("mapping.toml"), poll=1),
            extra="",
        )
        text = config.read_text("utf-8").replace(
            "enabled = false", f'enabled = true\nlisten = "127.0.0.1:{port}"'
        )
        # Counts below are of the legacy rows; RECON records are tested in test_reconcile.
        text += "\n[reconcile]\nenabled = false\n"
        config.write_text(text, "utf-8")
        enrolled(tmp_path / "state", fake)
        proc = subprocess.Popen(
            [ESUP_AGENT, "run", "-c", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while len(fake.records) < 45:  # 50 rows, 5 secret-level excluded
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "the agent delivered nothing"
                time.sleep(0.1)
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            assert "esup_agent_records_captured_total 45" in metrics.splitlines()
            while not fake.heartbeats:
                assert time.monotonic() < deadline, "no heartbeat"
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, stderr
    assert "agent stopped" in stderr
    with Outbox(tmp_path / "state" / OUTBOX_FILE, readonly=True) as outbox:
        assert outbox.stats()["pending"] == 0 and outbox.stats()["delivered"] == 45


def test_a_failing_source_or_collector_is_recorded_and_shown_in_status(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from agent.cli import main
    from agent.config import load_config
    from agent.runner import Agent

    write_mapping(tmp_path / "mapping.toml")
    source = sqlite_source("Driver={No Such Driver};Database=x", Path("mapping.toml"))
    config_path = write_config(tmp_path, f"http://127.0.0.1:{free_port()}", sources=source)
    enrolled(tmp_path / "state", FakeCollector())
    agent = Agent.build(load_config(config_path))
    try:
        agent.outbox.commit_chunk(
            "xzsp", "SB:T", [OutboxRecord.from_record(r) for r in sb_records(2)]
        )
        result = agent.run_once()
    finally:
        agent.close()
    assert result["polls"] == [] and result["push"].error
    status = CliRunner().invoke(main, ["status", "-c", str(config_path)]).output
    assert "[poll xzsp]" in status and "[push]" in status and "[heartbeat]" in status
    assert "pending / 待上报:               2 records" in status
    metrics = CliRunner().invoke(main, ["status", "-c", str(config_path), "--json"]).output
    assert '"push_failures": 1' in metrics
