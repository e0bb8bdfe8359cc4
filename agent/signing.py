"""The agent's identity on disk: its Ed25519 key, the mapping's HMAC secret, the pinned
collector key and the agent id received at enrolment.

Everything lives in ``state_dir``; secrets are created on first use with mode 0600 and
never leave the machine (only the public key is sent, at enrolment).
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from exchange_spec import protocol
from exchange_spec.errors import ProtocolError

from .errors import ConfigError, EnrolError

PRIVATE_KEY_FILE = "agent_key.pem"
HMAC_KEY_FILE = "mapping_hmac.key"
COLLECTOR_KEY_FILE = "collector_key.pub"
ENROLMENT_FILE = "enrolment.json"


def _write_secret(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 atomically; never overwrite an existing secret."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.link(tmp, path)  # fails if another process created it meanwhile: theirs wins
    tmp.unlink()


def _write_public(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def check_private(path: Path) -> None:
    """Refuse a secret file other users may read or change (as the collector does for its
    own key): whoever reads the agent key can sign batches as this department."""
    if os.name != "posix" or not path.exists():
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path} is readable by other users (mode {oct(mode & 0o777)}); it must be "
            f"readable by the agent's user only. Fix it with: chmod 600 {path} / "
            f"密钥文件权限过宽，其他用户可读；请执行 chmod 600 {path}"
        )


def state_dir_exposure(state_dir: Path) -> str | None:
    """Why other users can look into the state directory, or None. It holds the outbox
    and the quarantine, whose rows are legacy rows as read (ID numbers unmasked)."""
    if os.name != "posix" or not state_dir.is_dir():
        return None
    mode = state_dir.stat().st_mode
    if not mode & (stat.S_IRWXG | stat.S_IRWXO):
        return None
    return (
        f"the state directory {state_dir} is open to other users (mode {oct(mode & 0o777)}); "
        "it holds the outbox and quarantined legacy rows. Fix it with: chmod 700 "
        f"{state_dir} / 状态目录其他用户可访问,请执行 chmod 700 {state_dir}"
    )


def ensure_state_dir(state_dir: Path) -> Path:
    """The state directory, created readable by the agent's user only (0700)."""
    try:
        if not state_dir.exists():
            state_dir.mkdir(mode=0o700, parents=True)
            state_dir.chmod(0o700)  # whatever the umask: the outbox holds personal data
    except FileExistsError:
        pass  # created by another process meanwhile
    except OSError as exc:
        raise ConfigError(
            f"cannot create the state directory {state_dir}: {exc.strerror}. "
            f"Fix: create it and give the agent's user write access / "
            f"无法创建状态目录，请创建并授予写权限"
        ) from exc
    return state_dir


@dataclass(frozen=True)
class Enrolment:
    agent_id: str
    department: str
    collector_public_key: bytes
    collector_key_id: str


class AgentKeys:
    """Key material of one agent, read from (and created in) its state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self._private: Ed25519PrivateKey | None = None

    # -- own signing key -------------------------------------------------------------------
    @property
    def private_key(self) -> Ed25519PrivateKey:
        if self._private is None:
            self._private = self._load_or_create_private()
        return self._private

    def _load_or_create_private(self) -> Ed25519PrivateKey:
        path = self.state_dir / PRIVATE_KEY_FILE
        if not path.exists():
            ensure_state_dir(self.state_dir)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            try:
                _write_secret(path, pem)
            except FileExistsError:
                pass
        check_private(path)
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"the agent key {path} cannot be read ({exc}). Fix: restore it from backup, "
                "or move it away and enrol again / 代理私钥无法读取，请恢复或重新注册"
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigError(f"{path} is not an Ed25519 private key")
        return key

    @property
    def public_key_raw(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def key_id(self) -> str:
        return protocol.key_id(self.public_key_raw)

    def sign(self, frame: dict[str, Any]) -> str:
        return protocol.sign(self.private_key, frame)

    def reload(self) -> None:
        """Read the key file again on next use (a rotation or re-enrolment replaced it)."""
        self._private = None

    # -- mapping HMAC secret ---------------------------------------------------------------
    def hmac_key(self) -> bytes:
        """Secret for the mapping's keyed hashing of personal data (32 random bytes)."""
        path = self.state_dir / HMAC_KEY_FILE
        if not path.exists():
            ensure_state_dir(self.state_dir)
            try:
                _write_secret(path, secrets.token_bytes(32))
            except FileExistsError:
                pass
        check_private(path)
        return path.read_bytes()

    # -- enrolment ---------------------------------------------------------------------------
    def save_enrolment(self, enrolment: Enrolment) -> None:
        ensure_state_dir(self.state_dir)
        _write_public(
            self.state_dir / COLLECTOR_KEY_FILE,
            protocol.b64(enrolment.collector_public_key).encode() + b"\n",
        )
        data = {
            "agent_id": enrolment.agent_id,
            "department": enrolment.department,
            "collector_key_id": enrolment.collector_key_id,
        }
        _write_public(
            self.state_dir / ENROLMENT_FILE,
            (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode(),
        )

    def enrolment(self) -> Enrolment | None:
        """The saved enrolment, or None when the agent has not enrolled yet."""
        info_path = self.state_dir / ENROLMENT_FILE
        key_path = self.state_dir / COLLECTOR_KEY_FILE
        if not info_path.exists() or not key_path.exists():
            return None
        try:
            info = json.loads(info_path.read_text("utf-8"))
            key = protocol.unb64(key_path.read_text("ascii").strip(), "pinned collector key")
            return Enrolment(
                str(info["agent_id"]), str(info["department"]), key, str(info["collector_key_id"])
            )
        except (OSError, ValueError, KeyError, ProtocolError) as exc:
            raise ConfigError(
                f"the enrolment files in {self.state_dir} are damaged ({exc}). "
                "Fix: enrol again with a new token / 注册信息损坏，请使用新令牌重新注册"
            ) from exc

    def require_enrolment(self) -> Enrolment:
        for name in (PRIVATE_KEY_FILE, HMAC_KEY_FILE):
            check_private(self.state_dir / name)  # before running, not at the first push
        found = self.enrolment()
        if found is None:
            raise EnrolError(
                f"this agent is not enrolled (no {ENROLMENT_FILE} in {self.state_dir}). "
                "Fix: run `esup-agent enrol -c CONFIG --token TOKEN` with a token from the "
                "collector's operator / 尚未注册，请向监察中心索取令牌并执行 enrol"
            )
        return found
