"""The heartbeat: a signed note to the collector saying this agent is alive and how it is.

It carries what the operator needs without logging in to the front-end machine (how far
each table has been read, as a time and never a row's key; outbox depth, whether a source
is being read, oldest undelivered age, quarantine, last errors with row values removed: see
:mod:`agent.disclosure`) and brings back, signed, the collector's clock (the offset is
measured NTP-style: collector time minus the midpoint of our send and receive times, and used
when signing manifests) and the highest seq it holds for this agent (a state directory
restored from a backup numbers new records above it). Outbox depth and ``capturing`` are also
the backlog the collector waits on.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from exchange_spec import protocol
from exchange_spec.errors import ProtocolError

from . import __version__
from .backlog import CaptureState
from .disclosure import public_cursors, public_errors
from .push import is_stale
from .reconcile import missed_rows
from .signing import AgentKeys, Enrolment
from .state import Outbox
from .transport import EnvelopeRefused, post_json, server_time

HEARTBEAT_PATH = "/api/v1/heartbeat"


def utc_now() -> datetime:
    return datetime.now(UTC)


def verified_ack(
    answer: dict[str, Any], manifest: dict[str, Any], enrolment: Enrolment
) -> dict[str, Any] | None:
    """The collector's signed acknowledgement of this manifest, None when it does not verify:
    an unsigned time or last seq could make us sign with a wrong clock or skip numbers."""
    ack, signature = answer.get("ack"), answer.get("signature")
    if not isinstance(ack, dict) or not isinstance(signature, str):
        return None
    try:
        protocol.verify(enrolment.collector_public_key, ack, signature)
    except ProtocolError:
        return None
    if ack.get("manifest_hash") != protocol.frame_hash(manifest):
        return None
    return ack


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
        # Positions as times and error texts without row values: nothing of a legacy row
        # (an excluded one least of all) may travel in a heartbeat.
        "cursors": public_cursors(outbox.cursors()),
        "outbox_pending": stats["pending"],
        "outbox_pending_bytes": stats["pending_bytes"],
        "capturing": capturing,
        "oldest_pending_seconds": stats["oldest_pending_seconds"],
        "delivered": stats["delivered"],
        "rejected": stats["rejected"],
        "quarantined": stats["quarantined"],
        "paused": outbox.paused,
        "push_stopped": outbox.link.stopped,
        "clock_offset_seconds": outbox.link.clock_offset,
        "last_errors": public_errors(outbox.last_errors(5)),
        # Rows reconciliation found behind a read position, never read by a poll (a count).
        "reconcile": missed_rows(outbox),
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
    catching_up: bool = False,
) -> dict[str, Any]:
    """Send one heartbeat (``body``, else :func:`heartbeat_body` now); returns the collector's
    answer. Raises PushError/PushRefused.

    What the signed acknowledgement says goes to the outbox's link: the collector's clock, its
    last seq for this agent, and whether it now knows us as behind. A body saying "behind"
    always counts; one saying "caught up" only when ``catching_up`` (the runner's heartbeat
    after the last batch): a routine heartbeat may carry older news than a batch sent since."""
    link = outbox.link
    if body is None:
        body = heartbeat_body(outbox, agent_name)
    manifest = protocol.body_manifest(
        "heartbeat",
        enrolment.agent_id,
        protocol.frame_hash(body),
        created_at=link.signing_time(wall()),
    )
    envelope = {"manifest": manifest, "signature": keys.sign(manifest), "heartbeat": body}
    sent = wall()
    try:
        _, answer = post_json(client, HEARTBEAT_PATH, envelope, signing_key=keys.private_key)
    except EnvelopeRefused as exc:
        if is_stale(exc) and exc.collector_time is not None:
            link.learn_clock(sent, wall(), exc.collector_time)
        raise
    received = wall()
    ack = verified_ack(answer, manifest, enrolment)
    behind: bool | None = None
    if ack is not None:  # only a signed answer may move our clock or our numbering
        collector = server_time(None, ack)
        if collector is not None:
            link.learn_clock(sent, received, collector)
        try:
            last_seq = protocol.read_last_seq(ack)
        except ProtocolError:
            last_seq = None
        if last_seq is not None:
            link.heard_last_seq(last_seq)
    # The collector took the report (it answered 200), signed answer or not.
    reported = protocol.heartbeat_backlog(body)
    if reported is not None and (reported.behind or catching_up):
        behind = reported.behind
    link.heartbeat_acknowledged(received, behind=behind)
    return dict(answer)
