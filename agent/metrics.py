"""Prometheus text-format metrics on a local port (127.0.0.1 unless configured otherwise).

Figures are read from the outbox at each scrape, so they survive restarts and agree with
``esup-agent status``.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .errors import ConfigError
from .state import Outbox
from .status import collect

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: name -> (type, help, how to read it from the status dict)
METRICS: tuple[tuple[str, str, str], ...] = (
    ("esup_agent_outbox_pending", "gauge", "records captured and not yet delivered"),
    ("esup_agent_outbox_pending_bytes", "gauge", "bytes of undelivered records"),
    ("esup_agent_oldest_pending_seconds", "gauge", "age of the oldest undelivered record"),
    ("esup_agent_quarantined", "gauge", "open quarantined rows"),
    ("esup_agent_rejected", "gauge", "records the collector rejected"),
    ("esup_agent_paused", "gauge", "1 while polling pauses (outbox full or disk reserve)"),
    ("esup_agent_push_stopped", "gauge", "1 when the collector refused this agent"),
    ("esup_agent_clock_offset_seconds", "gauge", "collector clock minus agent clock"),
    ("esup_agent_records_captured_total", "counter", "records added to the outbox"),
    ("esup_agent_records_delivered_total", "counter", "records covered by a receipt"),
    ("esup_agent_duplicates_total", "counter", "re-read records already in the outbox"),
    ("esup_agent_push_failures_total", "counter", "failed push attempts"),
    (
        "esup_agent_reconcile_missed_total",
        "counter",
        "rows reconciliation found behind a read position, never read by a poll",
    ),
)


def values(status: dict[str, Any]) -> dict[str, float]:
    o, c = status["outbox"], status["counters"]
    return {
        "esup_agent_outbox_pending": o["pending"],
        "esup_agent_outbox_pending_bytes": o["pending_bytes"],
        "esup_agent_oldest_pending_seconds": o["oldest_pending_seconds"] or 0.0,
        "esup_agent_quarantined": o["quarantined"],
        "esup_agent_rejected": o["rejected"],
        "esup_agent_paused": 1.0 if status["paused"] else 0.0,
        "esup_agent_push_stopped": 1.0 if status["push_stopped"] else 0.0,
        "esup_agent_clock_offset_seconds": status["clock_offset_seconds"] or 0.0,
        "esup_agent_records_captured_total": c.get("captured", 0),
        "esup_agent_records_delivered_total": c.get("delivered", 0),
        "esup_agent_duplicates_total": c.get("duplicates", 0),
        "esup_agent_push_failures_total": c.get("push_failures", 0),
        "esup_agent_reconcile_missed_total": (status.get("reconcile") or {}).get("missed_total", 0),
    }


def render(status: dict[str, Any]) -> str:
    figures = values(status)
    lines = []
    for name, kind, help_text in METRICS:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} {kind}")
        lines.append(f"{name} {float(figures[name]):g}")
    return "\n".join(lines) + "\n"


class MetricsServer:
    """``/metrics`` served from a daemon thread."""

    def __init__(self, outbox: Outbox, host: str = "127.0.0.1", port: int = 9464) -> None:
        self.outbox = outbox

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] not in ("/metrics", "/"):
                    self.send_error(404)
                    return
                body = render(collect(outbox)).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # scrapes every few seconds would flood the journal

        try:
            self.server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve metrics on {host}:{port} ({exc.strerror}). Fix: choose a free "
                "port in metrics.listen or set metrics.enabled = false / 指标端口被占用"
            ) from exc
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="esup-metrics", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
