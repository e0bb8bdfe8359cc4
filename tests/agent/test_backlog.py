"""The agent tells the collector whether more is coming: in every batch manifest (records
still pending, a source being read) and in every heartbeat, and with a heartbeat of its own
once it has caught up after saying it was behind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.backlog import CaptureState
from agent.config import load_config
from agent.heartbeat import heartbeat_body, send_heartbeat
from agent.mapping import Mapping
from agent.pipeline import Pipeline
from agent.runner import Agent
from agent.sources import Chunk, OdbcSource, SourceSettings, TableSettings
from exchange_spec import protocol
from exchange_spec.errors import BadSignature
from installer.legacy_demo_db import create_legacy_sqlite

from .agent_setup import enrolled, sb_records, sqlite_source, write_config, write_mapping
from .fake_collector import FakeCollector
from .test_pipeline import settings
from .test_push import fill, make_pusher

# 50 demo rows in chunks of 7: 8 chunks; every 10th row is secret-level (excluded).
ROWS, CHUNKS, VALID = 50, 8, 45


class HeldSource(OdbcSource):
    """The real ODBC source, running ``after_chunk(i)`` once the poll has committed chunk
    ``i`` and asks for the next one (the poll is held between chunks meanwhile), and
    ``at_end()`` when the table is read but the poll has not ended yet."""

    def __init__(
        self,
        settings: SourceSettings,
        after_chunk: Callable[[int], None],
        at_end: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(settings)
        self.after_chunk = after_chunk
        self.at_end = at_end

    def read(self, table: TableSettings, cursor: dict[str, Any] | None) -> Iterator[Chunk]:
        for i, chunk in enumerate(super().read(table, cursor)):
            yield chunk
            self.after_chunk(i)
        self.at_end()


def batch_manifests(fake: FakeCollector) -> list[dict[str, Any]]:
    return [body["manifest"] for path, _, body in fake.seen if path == "/api/v1/batches"]


def backlogs(fake: FakeCollector) -> list[tuple[int, bool]]:
    out = []
    for manifest in batch_manifests(fake):
        backlog = protocol.read_backlog(manifest)
        assert backlog is not None
        out.append((backlog.records, backlog.capturing))
    return out


def heartbeat_requests(fake: FakeCollector) -> int:
    return sum(1 for path, _, _ in fake.seen if path == "/api/v1/heartbeat")


@pytest.fixture
def legacy(tmp_path: Path) -> str:
    return create_legacy_sqlite(tmp_path / "legacy.db", n=ROWS)


def test_capture_state_counts_sources_being_read() -> None:
    capture = CaptureState()
    assert not capture.capturing
    capture.started("a")
    capture.started("b")
    capture.finished("a")
    assert capture.capturing
    capture.finished("b")
    capture.finished("b")  # a poll's finally may find nothing to clear
    assert not capture.capturing


def test_every_manifest_says_what_is_left_after_it_inside_the_signature(
    tmp_path: Path,
) -> None:
    fake = FakeCollector()
    pusher, outbox, _ = make_pusher(tmp_path, fake, batch_max_records=5)
    fill(outbox, sb_records(12))
    outcome = pusher.push(max_batches=1)
    assert pusher.link.told_behind  # 7 records still pending
    outcome = pusher.push()
    assert outcome.error is None and outcome.batches == 2
    assert backlogs(fake) == [(7, False), (2, False), (0, False)]
    assert not pusher.link.told_behind
    # The fake collector took every batch after verifying its signature; so does anyone
    # holding the agent's key, and the backlog cannot be changed without breaking it.
    assert len(fake.manifests) == 3
    first = next(body for path, _, body in fake.seen if path == "/api/v1/batches")
    protocol.verify(pusher.keys.public_key_raw, first["manifest"], first["signature"])
    forged = {**first["manifest"], "backlog": {"records": 0, "capturing": False}}
    with pytest.raises(BadSignature):
        protocol.verify(pusher.keys.public_key_raw, forged, first["signature"])


def test_a_batch_sent_while_a_poll_is_between_chunks_says_a_source_is_being_read(
    tmp_path: Path, legacy: str
) -> None:
    fake = FakeCollector()
    capture = CaptureState()
    pusher, outbox, _ = make_pusher(tmp_path, fake, capture=capture)
    seen: list[bool] = []

    def after_chunk(i: int) -> None:
        seen.append(capture.capturing)
        if i == 0:
            assert pusher.push().delivered == 7  # chunk 0 only: the rest is not read yet

    def at_end() -> None:
        seen.append(capture.capturing)

    mapping = write_mapping(tmp_path / "mapping.toml")
    pipeline = Pipeline(
        settings(legacy, mapping),
        Mapping.load(mapping, hmac_key=b"k" * 32),
        outbox,
        source_factory=lambda s: HeldSource(s, after_chunk, at_end),
        capture=capture,
    )
    assert not capture.capturing
    [report] = pipeline.poll()
    assert report.chunks == CHUNKS and seen == [True] * (CHUNKS + 1)
    assert not capture.capturing  # the poll ended
    assert backlogs(fake) == [(0, True)] and pusher.link.told_behind
    assert pusher.push().delivered == VALID - 7
    assert backlogs(fake)[1:] == [(0, False)] and not pusher.link.told_behind

    # A poll that finds nothing new never counts as capturing, not even while it runs.
    seen.clear()
    [report] = pipeline.poll()
    assert report.rows == 0 and seen == [False] and not capture.capturing


def build_agent(
    tmp_path: Path, fake: FakeCollector, legacy: str, after_chunk: Callable[[int], None]
) -> Agent:
    write_mapping(tmp_path / "mapping.toml")
    config = write_config(tmp_path, sources=sqlite_source(legacy, Path("mapping.toml"), fetch=7))
    enrolled(tmp_path / "state", fake)
    agent = Agent.build(
        load_config(config),
        transport=fake.transport(),
        source_factory=lambda s: HeldSource(s, after_chunk),
    )
    agent.pusher.interval_seconds = 0  # every tick may push: the test drives the ticks
    return agent


def test_catching_up_is_announced_by_a_heartbeat_when_no_batch_follows(
    tmp_path: Path, legacy: str
) -> None:
    fake = FakeCollector()
    # A push tick after each chunk: the last batch leaves while the poll is still running.
    agent = build_agent(tmp_path, fake, legacy, lambda i: agent.push())
    try:
        [pipeline] = agent.pipelines
        assert pipeline.capture is agent.capture and agent.pusher.capture is agent.capture
        agent.poll(pipeline)
        assert len(fake.records) == VALID and agent.outbox.pending_totals()[0] == 0
        assert backlogs(fake)[-1] == (0, True) and agent.pusher.link.told_behind
        assert heartbeat_requests(fake) == 0  # nothing to announce while a source is read
        batches = len(batch_manifests(fake))

        now = [agent.pusher.clock()]
        agent.pusher.clock = lambda: now[0]
        fake.fail_next = [503]  # the announcement fails: tried again after a backoff wait
        agent.push()
        assert heartbeat_requests(fake) == 1 and fake.heartbeats == []
        assert agent.pusher.link.told_behind
        agent.push()  # the next tick, before the wait is over: nothing sent
        assert heartbeat_requests(fake) == 1

        now[0] = agent.catch_up_retry_at
        agent.push()
        [beat] = fake.heartbeats
        assert (beat["outbox_pending"], beat["capturing"]) == (0, False)
        assert not agent.pusher.link.told_behind
        agent.push()
        assert heartbeat_requests(fake) == 2 and len(batch_manifests(fake)) == batches
    finally:
        agent.close()


def test_a_heartbeat_says_whether_a_source_is_being_read(tmp_path: Path, legacy: str) -> None:
    fake = FakeCollector()
    agent = build_agent(tmp_path, fake, legacy, lambda i: None)
    try:
        assert heartbeat_body(agent.outbox, "fe-01")["capturing"] is False
        agent.capture.started("xzsp")  # a poll that has read rows
        assert agent.heartbeat() is True
        [beat] = fake.heartbeats
        assert (beat["outbox_pending"], beat["capturing"]) == (0, True)
        # No batch will follow (e.g. the rows read were sent before): the push ticks announce
        # the catch-up once the poll ends, as after a batch that said "behind".
        assert agent.pusher.link.told_behind
        agent.push()
        assert len(fake.heartbeats) == 1
        agent.capture.finished("xzsp")
        agent.push()
        assert fake.heartbeats[-1]["capturing"] is False and not agent.pusher.link.told_behind
        fake.fail_next = [503]
        assert agent.heartbeat() is False
    finally:
        agent.close()


def test_send_heartbeat_reports_capturing_from_its_capture_state(tmp_path: Path) -> None:
    fake = FakeCollector()
    pusher, outbox, _ = make_pusher(tmp_path, fake)
    capture = CaptureState()
    capture.started("xzsp")
    body = heartbeat_body(outbox, "fe-01", capture)
    send_heartbeat(outbox, pusher.keys, pusher.enrolment, pusher.client, body=body)
    assert fake.heartbeats == [body] and body["capturing"] is True


def test_outbox_pending_in_a_manifest_never_goes_below_zero(tmp_path: Path) -> None:
    fake = FakeCollector()
    pusher, outbox, _ = make_pusher(tmp_path, fake)
    fill(outbox, sb_records(2))
    batch = outbox.pending_batch(10, 10**9)
    outbox.mark_delivered([batch[0].seq])  # no longer pending by the time it is signed
    assert pusher.backlog(batch) == protocol.Backlog(0, False)
