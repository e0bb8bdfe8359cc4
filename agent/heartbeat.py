"""The heartbeat: a signed note to the collector saying this agent is alive and how it is.

It carries what the operator needs without logging in to the front-end machine (cursor
positions, outbox depth, whether a source is being read, oldest undelivered age, quarantine,
last errors) and brings back the collector's clock: the offset is measured NTP-style
(collector time minus the midpoint of our send and receive times) and used when signing
manifests. Outbox depth and ``capturing`` are also the backlog the collector waits on.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from exchange_spec import protocol
from exchange_spec.errors import ProtocolError

from . import __version__
from .backlog import CaptureState
from .outbox import Outbox
from .push import is_stale
from .signing import AgentKeys, Enrolment
from .transport import EnvelopeRefused, post_json, server_time

HEARTBEAT_PATH = "/api/v1/heartbeat"


def utc_now() -> datetime:
    return datetime.now(UTC)


def clock_offset(sent: datetime, received: datetime, collector: datetime) -> float:
    """Seconds to add to our clock to read the collector's (positive: we are behind)."""
    return (collector - (sent + (received - sent) / 2)).total_seconds()


def trusted_time(
    answer: dict[str, Any], manifest: dict[str, Any], enrolment: Enrolment
) -> datetime | None:
    """The collector's clock from its signed acknowledgement (None when it does not verify:
    an unsigned time could be used to make us sign with a wrong clock)."""
    ack, signature = answer.get("ack"), answer.get("signature")
    if not isinstance(ack, dict) or not isinstance(signature, str):
        return None
    try:
        protocol.verify(enrolment.collector_public_key, ack, signature)
    except ProtocolError:
        return None
    if ack.get("manifest_hash") != protocol.frame_hash(manifest):
        return None
    return server_time(None, ack)


def heartbeat_body(
    outbox: Outbox, agent_name: str, capture: CaptureState | None = None
) -> dict[str, Any]:
    # outbox_pending and capturing are the backlog the collector waits on; capturing is
    # read first for the reason given in Pusher.backlog.
    capturing = capture is not None and capture.capturing
    stats = outbox.stats()
    return {
        "agent_version": __version__,
        "hostname": socket.gethostname(),
        "name": agent_name,
        "sent_at": utc_now().isoformat(timespec="milliseconds"),
        "cursors": outbox.cursors(),
        "outbox_pending": stats["pending"],
        "outbox_pending_bytes": stats["pending_bytes"],
        "capturing": capturing,
        "oldest_pending_seconds": stats["oldest_pending_seconds"],
        "delivered": stats["delivered"],
        "rejected": stats["rejected"],
        "quarantined": stats["quarantined"],
        "paused": outbox.get_meta("paused"),
        "push_stopped": outbox.get_meta("push_stopped"),
        "clock_offset_seconds": outbox.get_meta("clock_offset_seconds"),
        "last_errors": outbox.last_errors(5),
    }


def send_heartbeat(
    outbox: Outbox,
    keys: AgentKeys,
    enrolment: Enrolment,
    client: httpx.Client,
    *,
    agent_name: str = "",
    wall: Callable[[], datetime] = utc_now,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Send one heartbeat (``body``, else :func:`heartbeat_body` now); returns the collector's
    answer. Raises PushError/PushRefused."""
    if body is None:
        body = heartbeat_body(outbox, agent_name)
    # Sign with the collector's idea of now when we know our clock is off.
    offset = float(outbox.get_meta("clock_offset_seconds") or 0.0)
    created_at = (wall() + timedelta(seconds=offset)).isoformat(timespec="milliseconds")
    manifest = protocol.body_manifest(
        "heartbeat", enrolment.agent_id, protocol.frame_hash(body), created_at=created_at
    )
    envelope = {"manifest": manifest, "signature": keys.sign(manifest), "heartbeat": body}
    sent = wall()
    try:
        _, answer = post_json(client, HEARTBEAT_PATH, envelope, signing_key=keys.private_key)
    except EnvelopeRefused as exc:
        if is_stale(exc) and exc.collector_time is not None:
            offset = clock_offset(sent, wall(), exc.collector_time)
            outbox.set_meta("clock_offset_seconds", round(offset, 3))
        raise
    received = wall()
    collector = trusted_time(answer, manifest, enrolment)
    if collector is not None:
        outbox.set_meta("clock_offset_seconds", round(clock_offset(sent, received, collector), 3))
    outbox.set_meta("last_heartbeat", received.isoformat(timespec="milliseconds"))
    return dict(answer)
