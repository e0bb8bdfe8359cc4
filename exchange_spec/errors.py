"""Exceptions of the exchange_spec package.

SpecError                  base of everything this package raises
├── UnreadableInput        a file that is not JSON Lines / a JSON array (CLI exit 2)
├── UnknownSpecVersion     a record or document names a spec version we do not have
└── ProtocolError          a batch, manifest or receipt that is malformed or badly signed
    └── BadSignature       the signature does not verify with the pinned key
"""

from __future__ import annotations


class SpecError(Exception):
    """Base of every error raised by exchange_spec."""


class UnreadableInput(SpecError):
    """Input that cannot be parsed at all (not JSON, wrong encoding, truncated)."""

    def __init__(self, message_en: str, message_zh: str = "") -> None:
        super().__init__(message_en)
        self.message_en = message_en
        self.message_zh = message_zh or message_en


class UnknownSpecVersion(SpecError):
    """A record or file names a spec version this release does not carry."""


class ProtocolError(SpecError):
    """A batch manifest, receipt or envelope that does not follow the transport protocol."""


class BadSignature(ProtocolError):
    """An Ed25519 signature that does not verify with the pinned public key."""
