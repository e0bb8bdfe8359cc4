"""The collector's own Ed25519 key: signs receipts so agents can trust them.

Generated on first start with mode 0600; a key file readable by others is refused.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exchange_spec import protocol

from .errors import SettingsError


@dataclass(frozen=True)
class CollectorKey:
    private_key: Ed25519PrivateKey
    public_raw: bytes

    @property
    def key_id(self) -> str:
        return protocol.key_id(self.public_raw)

    @property
    def public_b64(self) -> str:
        return protocol.b64(self.public_raw)


def _from_private(private_key: Ed25519PrivateKey) -> CollectorKey:
    raw = private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return CollectorKey(private_key, raw)


def load_or_create_key(path: Path) -> CollectorKey:
    """Load the key at ``path``; create it (0600) when the file does not exist yet."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            # O_EXCL: two processes starting at once must not overwrite each other's key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_or_create_key(path)
        except OSError as exc:
            raise SettingsError(f"key_file {path} cannot be created: {exc}") from exc
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        return _from_private(key)
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SettingsError(
            f"key_file {path} is readable by other users (mode {oct(mode & 0o777)}); "
            f"fix it with: chmod 600 {path}"
        )
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SettingsError(f"key_file {path} is not a readable PEM private key: {exc}") from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise SettingsError(f"key_file {path} holds a key that is not Ed25519")
    return _from_private(loaded)
