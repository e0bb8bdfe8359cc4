"""The proof of possession in a rotate manifest binds the agent, the key and the moment."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exchange_spec import protocol
from exchange_spec.errors import BadSignature, ProtocolError


def raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_a_rotate_manifest_proves_its_new_key() -> None:
    new = Ed25519PrivateKey.generate()
    manifest = protocol.rotate_manifest("ag-1", new)
    assert manifest["kind"] == "rotate" and manifest["agent_id"] == "ag-1"
    assert protocol.verify_rotate_proof(manifest) == raw(new)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("agent_id", "ag-2"),
        ("created_at", "2026-01-01T00:00:00+00:00"),
        ("nonce", "0" * 32),
        ("new_public_key", protocol.b64(raw(Ed25519PrivateKey.generate()))),
    ],
)
def test_the_proof_does_not_survive_a_change_of_what_it_binds(field: str, value: str) -> None:
    manifest = protocol.rotate_manifest("ag-1", Ed25519PrivateKey.generate())
    manifest[field] = value
    with pytest.raises(BadSignature):
        protocol.verify_rotate_proof(manifest)


def test_a_signature_made_for_the_rotate_envelope_is_no_proof() -> None:
    """Domain separation: the rotate_proof kind is signed, so a key's signature over the rotate
    manifest itself (what the CURRENT key signs) cannot stand in for a proof."""
    key = Ed25519PrivateKey.generate()
    manifest = protocol.rotate_manifest("ag-1", key)
    del manifest["new_key_proof"]
    manifest["new_key_proof"] = protocol.sign(key, {**manifest})
    with pytest.raises(BadSignature):
        protocol.verify_rotate_proof(manifest)


def test_a_manifest_without_proof_says_what_is_missing() -> None:
    new_b64 = protocol.b64(raw(Ed25519PrivateKey.generate()))
    manifest = protocol.body_manifest("rotate", "ag-1", "0" * 64, new_public_key=new_b64)
    with pytest.raises(ProtocolError, match="new_key_proof"):
        protocol.verify_rotate_proof(manifest)
