"""The batch manifest's backlog: what the agent still has to send, signed with the batch."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from exchange_spec import protocol
from exchange_spec.errors import BadSignature, ProtocolError

ITEMS = [(1, "a" * 64), (2, "b" * 64)]


def test_a_backlog_travels_in_the_manifest_and_reads_back() -> None:
    manifest = protocol.batch_manifest("ag-1", ITEMS, backlog=protocol.Backlog(1200, True))
    assert manifest["backlog"] == {"records": 1200, "capturing": True}
    assert protocol.read_backlog(manifest) == protocol.Backlog(1200, True)


@pytest.mark.parametrize(
    ("backlog", "behind"),
    [(protocol.Backlog(0, False), False), (protocol.Backlog(3, False), True),
     (protocol.Backlog(0, True), True)],
)  # fmt: skip
def test_behind_means_records_to_come_or_a_source_being_read(
    backlog: protocol.Backlog, behind: bool
) -> None:
    assert backlog.behind is behind


def test_a_manifest_without_backlog_says_nothing_about_it() -> None:
    manifest = protocol.batch_manifest("ag-1", ITEMS)
    assert "backlog" not in manifest
    assert protocol.read_backlog(manifest) is None


@pytest.mark.parametrize(
    "value",
    [
        {"records": -1, "capturing": False},
        {"records": True, "capturing": False},
        {"records": "12", "capturing": False},
        {"records": 3},
        {"records": 3, "capturing": "no"},
        [3, False],
    ],
)
def test_a_malformed_backlog_is_a_protocol_error_that_shows_the_expected_shape(
    value: Any,
) -> None:
    with pytest.raises(ProtocolError, match=r'backlog must be \{"records"'):
        protocol.read_backlog({"backlog": value})


def test_the_backlog_is_signed_with_the_batch() -> None:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    manifest = protocol.batch_manifest("ag-1", ITEMS, backlog=protocol.Backlog(5, False))
    signature = protocol.sign(key, manifest)
    protocol.verify(raw, manifest, signature)
    manifest["backlog"]["records"] = 0  # "nothing more is coming" cannot be forged
    with pytest.raises(BadSignature):
        protocol.verify(raw, manifest, signature)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"outbox_pending": 40, "capturing": True}, protocol.Backlog(40, True)),
        ({"outbox_pending": 0}, protocol.Backlog(0, False)),  # an agent without capturing
        ({"outbox_pending": -1}, None),
        ({"outbox_pending": True}, None),
        ({}, None),
    ],
)
def test_a_heartbeat_body_reports_its_backlog_when_it_holds_a_usable_count(
    body: dict[str, Any], expected: protocol.Backlog | None
) -> None:
    assert protocol.heartbeat_backlog(body) == expected
