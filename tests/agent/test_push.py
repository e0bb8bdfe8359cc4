"""Delivery against a fake collector that speaks the real wire protocol."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.backoff import Backoff
from agent.config import CollectorSection
from agent.enrol import enrol
from agent.errors import EnrolError, PushRefused
from agent.heartbeat import send_heartbeat
from agent.push import Pusher
from agent.signing import HMAC_KEY_FILE, PRIVATE_KEY_FILE, AgentKeys
from agent.state import Outbox, OutboxRecord
from agent.transport import build_client
from exchange_spec import protocol

from .agent_setup import DEPARTMENT, enrolled, sb_records
from .fake_collector import FakeCollector, FakeCollectorServer, later


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    return sb_records(12)


def section(url: str = "https://collector.test") -> CollectorSection:
    return CollectorSection(url, None, None, None, 5.0, "")


def make_pusher(
    tmp_path: Path,
    fake: FakeCollector,
    *,
    url: str = "https://collector.test",
    transport: httpx.BaseTransport | None = None,
    **kw: Any,
) -> tuple[Pusher, Outbox, Clock]:
    keys, enrolment = enrolled(tmp_path / "state", fake)
    outbox = Outbox(tmp_path / "state" / "outbox.sqlite3")
    client = build_client(section(url), transport if url.startswith("https") else None)
    if transport is None and url.startswith("https"):
        client = build_client(section(url), fake.transport())
    clock = Clock()
    kw.setdefault("backoff", Backoff(2.0, 300.0, draw=lambda: 1.0))
    pusher = Pusher(outbox, keys, enrolment, client, clock=clock, **kw)
    return pusher, outbox, clock


def fill(outbox: Outbox, records: list[dict[str, Any]]) -> list[int]:
    return outbox.commit_chunk("xzsp", "SB:T", [OutboxRecord.from_record(r) for r in records]).seqs


def test_records_are_delivered_only_through_a_verified_receipt(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    fake = FakeCollector()
    pusher, outbox, _ = make_pusher(tmp_path, fake, batch_max_records=5)
    seqs = fill(outbox, records)
    outcome = pusher.push()
    assert outcome.error is None and outcome.delivered == 12 and outcome.batches == 3
    assert outbox.stats()["pending"] == 0 and outbox.stats()["delivered"] == 12
    assert sorted(fake.records) == seqs
    assert [len(m["items"]) for m in fake.manifests] == [5, 5, 2]
    # Bodies travel gzip-compressed and carry the capture-time hashes.
    batch_requests = [h for p, h, _ in fake.seen if p == "/api/v1/batches"]
    assert all(h["content-encoding"] == "gzip" for h in batch_requests)
    assert fake.manifests[0]["items"][0][1] == OutboxRecord.from_record(records[0]).content_hash


def test_batches_are_bounded_by_bytes(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    fake = FakeCollector()
    size = len(OutboxRecord.from_record(records[0]).body.encode())
    pusher, outbox, _ = make_pusher(tmp_path, fake, batch_max_bytes=int(size * 3.5))
    fill(outbox, records)
    assert pusher.push().delivered == 12
    assert max(len(m["items"]) for m in fake.manifests) <= 3
    assert len(fake.manifests) >= 4


def test_rejected_records_are_kept_with_their_reason_and_not_resent(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    fake = FakeCollector()
    pusher, outbox, _ = make_pusher(tmp_path, fake)
    broken = {k: v for k, v in records[1].items() if k != "SBLSH"}
    seqs = fill(outbox, [records[0], broken, records[2]])
    outcome = pusher.push()
    assert (outcome.delivered, outcome.rejected) == (2, 1)
    row = outbox.record(seqs[1])
    assert row["state"] == "rejected" and row["reject_code"]
    assert "SBLSH" in row["reject_reason"]
    assert outbox.rejected()[0]["seq"] == seqs[1]
    before = len(fake.manifests)
    assert pusher.push().batches == 0 and len(fake.manifests) == before


def test_a_receipt_with_a_bad_signature_marks_nothing_delivered(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    fake = FakeCollector(sign_receipts_with=Ed25519PrivateKey.generate())
    pusher, outbox, clock = make_pusher(tmp_path, fake)
    fill(outbox, records[:3])
    outcome = pusher.push()
    assert outcome.delivered == 0 and "not signed by the pinned collector key" in outcome.error
    assert outbox.stats()["pending"] == 3
    assert outbox.counters()["push_failures"] == 1
    # Once receipts verify again, the same records are delivered (the collector dedupes).
    fake.sign_receipts_with = None
    clock.now += outcome.wait_seconds or 0
    assert pusher.tick().delivered == 3


def test_5xx_and_refused_connections_are_retried_with_growing_waits(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    fake = FakeCollector()
    pusher, outbox, clock = make_pusher(tmp_path, fake)
    fake.fail_next = [503, "connect", 502, 500]
    fill(outbox, records[:2])
    waits = []
    for _ in range(4):
        outcome = pusher.tick()
        assert outcome is not None and outcome.delivered == 0
        waits.append(outcome.wait_seconds)
        assert pusher.tick() is None  # waiting: nothing is sent before the wait is over
        clock.now += outcome.wait_seconds
    assert waits == [2, 4, 8, 16]
    assert pusher.tick().delivered == 2
    assert pusher.backoff.attempts == 0
    assert outbox.counters()["push_failures"] == 4
    assert "will retry" in outbox.last_errors(1)[0]["message"]


def test_every_attempt_is_signed_afresh_with_the_capture_time_hashes(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    fake = FakeCollector()
    pusher, outbox, clock = make_pusher(tmp_path, fake)
    fake.fail_next = [503]
    fill(outbox, records[:2])
    clock.now += pusher.push().wait_seconds or 0
    pusher.push()
    first, second = [body for p, _, body in fake.seen if p == "/api/v1/batches"]
    assert first["manifest"]["items"] == second["manifest"]["items"]
    assert first["manifest"]["nonce"] != second["manifest"]["nonce"]
    assert first["signature"] != second["signature"]
    assert outbox.stats()["delivered"] == 2


def test_a_stale_clock_is_measured_and_the_batch_re_signed(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    fake = FakeCollector(clock=later(3600))
    pusher, outbox, _ = make_pusher(tmp_path, fake)
    fill(outbox, records[:2])
    outcome = pusher.push()
    assert outcome.error is None and outcome.delivered == 2
    assert abs(outbox.link.clock_offset - 3600) < 60


def test_a_revoked_agent_stops_pushing_and_keeps_everything(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    fake = FakeCollector()
    pusher, outbox, clock = make_pusher(tmp_path, fake)
    fill(outbox, records[:2])
    fake.revoked.add(pusher.enrolment.agent_id)
    outcome = pusher.push()
    assert outcome.stopped and "refuses this agent" in outcome.error
    assert outbox.stats()["pending"] == 2
    assert "403 agent_revoked" in outbox.link.stopped
    requests = len(fake.seen)
    assert pusher.tick() is None  # looks again only after a while
    clock.now += 10_000
    assert pusher.tick().stopped and len(fake.seen) == requests


def test_delivery_over_a_real_http_server(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    fake = FakeCollector()
    with FakeCollectorServer(fake) as server:
        keys, enrolment = enrolled(tmp_path / "state", fake)
        with (
            Outbox(tmp_path / "state" / "o.db") as outbox,
            build_client(section(server.url)) as client,
        ):
            fill(outbox, records[:4])
            pusher = Pusher(outbox, keys, enrolment, client)
            assert pusher.push().delivered == 4
            send_heartbeat(outbox, keys, enrolment, client)
    assert len(fake.records) == 4 and fake.heartbeats[0]["outbox_pending"] == 0


def test_connection_refused_on_a_real_socket_is_retried(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    fake = FakeCollector()
    keys, enrolment = enrolled(tmp_path / "state", fake)
    with (
        Outbox(tmp_path / "o.db") as outbox,
        build_client(section(f"http://127.0.0.1:{port}")) as client,
    ):
        fill(outbox, records[:1])
        pusher = Pusher(outbox, keys, enrolment, client, backoff=Backoff(draw=lambda: 0.0))
        outcome = pusher.push()
    assert outcome.wait_seconds == 1.0 and "cannot reach the collector" in outcome.error


def test_heartbeat_reports_state_and_measures_the_clock_offset(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    fake = FakeCollector(clock=later(-120))
    pusher, outbox, _ = make_pusher(tmp_path, fake)
    fill(outbox, records[:3])
    outbox.commit_chunk("xzsp", "SB:T", [], cursor={"ts": "2026-11-30T08:00:00+08:00", "key": 3})
    send_heartbeat(outbox, pusher.keys, pusher.enrolment, pusher.client, agent_name="fe-01")
    [beat] = fake.heartbeats
    assert beat["outbox_pending"] == 3 and beat["name"] == "fe-01"
    assert beat["cursors"][0]["read_up_to"] == "2026-11-30T08:00:00+08:00"  # never the key
    assert abs(outbox.link.clock_offset + 120) < 60


def test_heartbeats_and_batches_sign_with_the_learnt_offset(tmp_path: Path) -> None:
    fake = FakeCollector(clock=later(-3600))
    pusher, outbox, _ = make_pusher(tmp_path, fake)
    with pytest.raises(PushRefused, match="stale"):
        send_heartbeat(outbox, pusher.keys, pusher.enrolment, pusher.client)
    assert abs(outbox.link.clock_offset + 3600) < 60
    send_heartbeat(outbox, pusher.keys, pusher.enrolment, pusher.client)
    assert len(fake.heartbeats) == 1


def test_an_unsigned_heartbeat_time_is_not_trusted(tmp_path: Path) -> None:
    fake = FakeCollector(clock=later(200))
    pusher, outbox, _ = make_pusher(tmp_path, fake)
    fake.sign_receipts_with = Ed25519PrivateKey.generate()
    send_heartbeat(outbox, pusher.keys, pusher.enrolment, pusher.client)
    assert outbox.link.clock_offset is None


def test_enrolment_pins_the_collector_key_and_keeps_secrets_private(tmp_path: Path) -> None:
    fake = FakeCollector()
    keys, enrolment = enrolled(tmp_path / "state", fake)
    assert enrolment.collector_public_key == fake.public_key
    assert AgentKeys(tmp_path / "state").enrolment() == enrolment
    assert fake.agents[enrolment.agent_id] == keys.public_key_raw
    keys.hmac_key()
    for name in (PRIVATE_KEY_FILE, HMAC_KEY_FILE):
        assert stat.S_IMODE((tmp_path / "state" / name).stat().st_mode) == 0o600
    # The key survives a restart: same id.
    assert AgentKeys(tmp_path / "state").key_id == keys.key_id


def test_enrolment_refuses_a_wrong_department_or_fingerprint(tmp_path: Path) -> None:
    fake = FakeCollector(tokens={"t1", "t2"})
    keys = AgentKeys(tmp_path / "state")
    with build_client(section(), fake.transport()) as client:
        with pytest.raises(EnrolError, match="issued for department"):
            enrol(client, keys, token="t1", department="999")
        with pytest.raises(EnrolError, match="not the expected"):
            enrol(client, keys, token="t2", department=DEPARTMENT,
                  collector_fingerprint="00" * 8)  # fmt: skip
        with pytest.raises(EnrolError, match="refused the enrolment"):
            enrol(client, keys, token="used", department=DEPARTMENT)
    assert keys.enrolment() is None


def test_prune_after_delivery_never_lets_a_record_be_sent_twice(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    fake = FakeCollector()
    pusher, outbox, _ = make_pusher(tmp_path, fake)
    fill(outbox, records[:3])
    pusher.push()
    assert outbox.prune(timedelta(0)) == 3
    assert fill(outbox, records[:3]) == []
    assert pusher.push().batches == 0 and len(fake.manifests) == 1


def test_a_batch_the_collector_finds_too_large_is_split(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    fake = FakeCollector(max_batch_records=3)
    pusher, outbox, _ = make_pusher(tmp_path, fake, batch_max_records=10)
    fill(outbox, records[:8])
    outcome = pusher.push()
    assert outcome.error is None and outcome.delivered == 8
    assert max(len(m["items"]) for m in fake.manifests) <= 3


def test_a_receipt_covering_nothing_is_a_failure_not_a_loop(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    fake = FakeCollector()
    pusher, outbox, _ = make_pusher(tmp_path, fake)
    fill(outbox, records[:2])
    real_batch = fake.batch

    def covers_nothing(data: dict[str, Any]) -> tuple[int, Any]:
        manifest = data["manifest"]
        receipt = protocol.receipt(manifest["agent_id"], manifest, [], [], fake.key_id)
        return 200, {"receipt": receipt, "signature": protocol.sign(fake.key, receipt)}

    fake.batch = covers_nothing  # type: ignore[method-assign]
    outcome = pusher.push()
    assert outcome.error and "covers none" in outcome.error and outcome.wait_seconds == 2
    assert outbox.stats()["pending"] == 2
    fake.batch = real_batch  # type: ignore[method-assign]


# -- refusals that must not stop the agent, and receipts that cannot be written ---------------
@pytest.mark.parametrize("status", [403, 401])
def test_a_proxys_html_refusal_is_retried_not_taken_for_a_revocation(
    tmp_path: Path, records: list[dict[str, Any]], status: int
) -> None:
    fake = FakeCollector()
    keys, enrolment = enrolled(tmp_path / "state", fake)
    clock = Clock()
    fake.fail_next = [("html", status), ("html", status)]  # a proxy's pages, twice
    with (
        FakeCollectorServer(fake) as server,
        Outbox(tmp_path / "state" / "o.db") as outbox,
        build_client(section(server.url)) as client,
    ):
        fill(outbox, records[:3])
        pusher = Pusher(
            outbox, keys, enrolment, client, clock=clock, backoff=Backoff(2.0, 300.0, lambda: 1.0)
        )
        first = pusher.push()
        assert not first.stopped and outbox.link.stopped is None
        assert first.wait_seconds == 2.0 and "not the collector's" in (first.error or "")
        assert "not the collector's" in (outbox.link.trouble or "")
        from agent.status import collect, render

        shown = render(collect(outbox))  # what `esup-agent status` prints
        assert "push retrying / 上报重试中" in shown and "proxy" in shown
        assert "PUSH STOPPED" not in shown
        assert "proxy" in outbox.last_errors(1)[0]["message"]
        assert pusher.tick() is None  # waits like after any failure
        clock.now += 2.0
        assert pusher.tick().wait_seconds == 4.0  # the second page: waits longer
        clock.now += 4.0
        assert pusher.tick().delivered == 3
        assert outbox.link.trouble is None and len(fake.records) == 3


def test_an_unsigned_or_foreign_agent_revoked_json_is_retried(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    fake = FakeCollector()
    pusher, outbox, _ = make_pusher(tmp_path, fake)
    fill(outbox, records[:1])
    fake.revoked.add(pusher.enrolment.agent_id)
    fake.key, real = Ed25519PrivateKey.generate(), fake.key  # signed, but not by the collector
    outcome = pusher.push()
    assert not outcome.stopped and outbox.link.stopped is None and outcome.wait_seconds
    fake.key = real
    fake.fail_next.append(403)  # {"error": "unavailable"}: JSON, unsigned
    pusher.next_attempt_at = 0
    assert not pusher.push().stopped
    pusher.next_attempt_at = 0
    assert pusher.push().stopped  # the collector's own signed refusal


def test_a_receipt_that_cannot_be_written_backs_off_instead_of_resending_at_once(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    """The disk-full loop: the receipt came, marking it failed, and the same batch went
    again at every push tick (about once a second) with a traceback each time."""
    import sqlite3

    fake = FakeCollector()
    pusher, outbox, clock = make_pusher(tmp_path, fake, batch_max_records=5)
    fill(outbox, records[:5])

    def full(action: int, *args: Any) -> int:  # every write fails, as on a full disk
        writes = (sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE)
        return sqlite3.SQLITE_DENY if action in writes else sqlite3.SQLITE_OK

    outbox.store._conn.set_authorizer(full)
    outcome = pusher.push()  # does not raise
    assert outcome.error and "outbox" in outcome.error and outcome.wait_seconds == 2.0
    assert "next attempt in 2.0 s" in (outbox.link.trouble or "")
    for _ in range(30):  # 30 push ticks, one a second
        clock.now += 1
        pusher.tick()
    assert len(fake.manifests) == 5  # at 0, 2, 6, 14 and 30 s, not 31 times
    outbox.store._conn.set_authorizer(None)  # space again
    clock.now += 60
    outcome = pusher.tick()
    assert outcome.delivered == 5 and outbox.stats()["pending"] == 0
    assert outbox.link.trouble is None


def test_records_the_collector_holds_under_their_seqs_are_sent_again_above_its_last(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    fake = FakeCollector()
    pusher, outbox, _ = make_pusher(tmp_path, fake)
    # The collector holds seqs 1..6 from before the state directory was restored.
    for seq, record in enumerate(records[6:12], start=1):
        fake.records[seq] = record
    seqs = fill(outbox, records[:3])
    assert seqs == [1, 2, 3]
    outcome = pusher.push()
    assert (outcome.renumbered, outcome.rejected) == (3, 0)
    assert sorted(fake.records) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert [fake.records[s] for s in (7, 8, 9)] == records[:3]
    assert outbox.stats()["pending"] == 0 and outbox.counters()["renumbered"] == 3
    assert outbox.commit_chunk("xzsp", "SB:T", []).seqs == []
    assert fill(outbox, records[3:4]) == [10]


def test_a_heartbeat_moves_new_seqs_above_the_collectors_last(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    fake = FakeCollector()
    pusher, outbox, _ = make_pusher(tmp_path, fake)
    fake.records.update({seq: records[11] for seq in range(1, 41)})
    send_heartbeat(outbox, pusher.keys, pusher.enrolment, pusher.client)
    assert outbox.link.collector_last_seq == 40
    assert fill(outbox, records[:2]) == [41, 42]
    # An unsigned last seq is not believed.
    fake.records[500] = records[11]
    fake.sign_receipts_with = Ed25519PrivateKey.generate()
    send_heartbeat(outbox, pusher.keys, pusher.enrolment, pusher.client)
    assert outbox.link.collector_last_seq == 40


def test_an_implausible_collector_time_in_a_stale_refusal_teaches_no_offset(
    tmp_path: Path,
) -> None:
    """A stale refusal's time is not signed: something answering 'stale' with a time in year
    9999 must not leave an offset that makes every later signing time overflow."""
    fake = FakeCollector(clock=lambda: datetime(9999, 12, 31, 12, tzinfo=UTC))
    pusher, outbox, _ = make_pusher(tmp_path, fake)
    with pytest.raises(PushRefused, match="stale"):
        send_heartbeat(outbox, pusher.keys, pusher.enrolment, pusher.client)
    assert outbox.link.clock_offset is None
    outbox.link.signing_time(datetime.now(UTC))  # still signs


def test_a_stopped_agent_resumes_once_another_process_clears_the_stop(
    tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    """`esup-agent enrol` or `rotate-key` clears the stop in the state file from another
    process; the running agent sees it at its next look, without a restart."""
    fake = FakeCollector()
    pusher, outbox, clock = make_pusher(tmp_path, fake)
    fill(outbox, records[:2])
    fake.revoked.add(pusher.enrolment.agent_id)
    assert pusher.push().stopped
    fake.revoked.clear()
    with Outbox(tmp_path / "state" / "outbox.sqlite3") as other:  # the enrol command's
        other.link.resume()
    clock.now += 10_000
    outcome = pusher.tick()
    assert outcome is not None and not outcome.stopped and outcome.delivered == 2
