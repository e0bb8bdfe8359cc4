"""Enrolment: trade a one-time token for an agent id and pin the collector's key; key rotation.

The agent sends its public key and the department it is configured for; the collector answers
with the agent id, the department the token was issued for and its own signing key, which is
pinned in the state directory (checked against a fingerprint given out of band, when there is
one). A token for another department is refused before it is used.

No two agents may hold one key: when the collector says the key is already pinned (enrolling
again from the same state directory, a cloned machine), the agent enrols with a fresh key.

Rotation sends a ``rotate`` envelope signed with the current key and carrying the new key's
proof (protocol.rotate_manifest). The new key waits in ``next/`` of the state directory and
replaces the current one only once the collector pinned it, so an interrupted rotation is
finished by running it again.
"""

from __future__ import annotations

import os
import shutil
import socket
from typing import Any

import httpx

from exchange_spec import protocol
from exchange_spec.errors import ProtocolError

from . import __version__
from .errors import EnrolError, PushError, PushRefused
from .signing import PRIVATE_KEY_FILE, AgentKeys, Enrolment
from .transport import post_json

ENROL_PATH = "/api/v1/enrol"
ROTATE_PATH = "/api/v1/rotate"
#: Where a key waits until the collector pinned it (created 0600 by AgentKeys, in a 0700 dir).
NEXT_KEY_DIR = "next"


def enrol(
    client: httpx.Client,
    keys: AgentKeys,
    *,
    token: str,
    department: str,
    collector_fingerprint: str = "",
) -> Enrolment:
    try:
        answer = _ask_enrol(client, keys, token, department)
        fresh = None
    except PushRefused as exc:
        if exc.code != "key_in_use":
            raise _refused(exc, department) from exc
        # The collector consumed nothing: enrol again, with a key no agent ever held.
        fresh = AgentKeys(keys.state_dir / NEXT_KEY_DIR)
        try:
            answer = _ask_enrol(client, fresh, token, department)
        except PushRefused as again:
            raise _refused(again, department) from again
    enrolment = _parse(answer)
    if enrolment.department != department:
        raise EnrolError(
            f"the token was issued for department {enrolment.department!r} but this agent's "
            f"config says agent.department = {department!r}. Fix: correct the config or ask "
            "for a token for this department / 令牌所属部门与配置不符"
        )
    actual = protocol.key_id(enrolment.collector_public_key)
    if actual != enrolment.collector_key_id:
        raise EnrolError(
            f"the collector announced key id {enrolment.collector_key_id} but sent a key "
            f"whose id is {actual}; not enrolled"
        )
    wanted = collector_fingerprint.strip().lower()
    if wanted and wanted != actual:
        raise EnrolError(
            f"the collector's key {actual} is not the expected {wanted}: this may not be the "
            "real collector. Nothing was saved. Fix: check the fingerprint with the "
            "operator by phone / 监察中心公钥指纹不符，可能不是真正的监察中心，未保存"
        )
    if fresh is not None:
        _install(fresh, keys)
    keys.save_enrolment(enrolment)
    return enrolment


def _ask_enrol(client: httpx.Client, keys: AgentKeys, token: str, department: str) -> Any:
    body = {
        "token": token,
        "public_key": protocol.b64(keys.public_key_raw),
        "hostname": socket.gethostname(),
        "agent_version": __version__,
        "department": department,
    }
    return _post(client, ENROL_PATH, body, "enrolment failed")


def _refused(exc: PushRefused, department: str) -> EnrolError:
    if exc.code == "department_mismatch":
        return EnrolError(
            f"the token belongs to another department than agent.department = {department!r}: "
            f"{exc}. The token was not used: correct agent.department in the config, or ask "
            "for a token for this department / 令牌不属于本部门，令牌未被使用"
        )
    return EnrolError(
        f"the collector refused the enrolment: {exc}. Fix: ask the operator for a new "
        "token (tokens are single-use and expire) / 注册被拒绝，请索取新的注册令牌"
    )


def rotate_key(client: httpx.Client, keys: AgentKeys) -> str:
    """Move this agent to a new key; returns its key id once the collector pinned it."""
    enrolment = keys.require_enrolment()
    pending = AgentKeys(keys.state_dir / NEXT_KEY_DIR)
    try:
        answer = _ask_rotate(client, enrolment.agent_id, pending, signer=keys)
    except PushRefused as exc:
        if exc.code != "bad_signature":
            raise EnrolError(
                f"the collector refused the key rotation: {exc} / "
                "监察中心拒绝更换密钥，本机密钥未变"
            ) from exc
        # A rotation whose answer was lost leaves the collector holding the pending key:
        # asking again signed with that key is a no-op that says so.
        try:
            answer = _ask_rotate(client, enrolment.agent_id, pending, signer=pending)
        except PushRefused as again:
            raise EnrolError(
                f"the collector accepts neither the current key {keys.key_id} nor the new one "
                f"{pending.key_id} ({again}). Fix: enrol again with a new token / "
                "监察中心不接受本机密钥，请使用新令牌重新注册"
            ) from again
    if not isinstance(answer, dict) or answer.get("key_id") != pending.key_id:
        raise EnrolError(
            f"the collector's rotation answer is not for key {pending.key_id}; nothing changed, "
            "run the command again / 监察中心的应答与新密钥不符，本机密钥未变，请重新执行"
        )
    _install(pending, keys)
    return pending.key_id


def _ask_rotate(
    client: httpx.Client, agent_id: str, pending: AgentKeys, *, signer: AgentKeys
) -> Any:
    manifest = protocol.rotate_manifest(agent_id, pending.private_key)
    envelope = {"manifest": manifest, "signature": signer.sign(manifest)}
    return _post(
        client,
        ROTATE_PATH,
        envelope,
        "key rotation failed, nothing changed / 密钥更换失败，本机密钥未变",
        signing_key=signer.private_key,
    )


def _post(
    client: httpx.Client, path: str, body: Any, failed: str, *, signing_key: Any = None
) -> Any:
    """The collector's answer; its refusal (PushRefused) for the caller to word, anything
    else (network, 5xx) as an EnrolError: the command is simply run again."""
    try:
        _, answer = post_json(client, path, body, signing_key=signing_key)
    except PushRefused:
        raise
    except PushError as exc:
        raise EnrolError(f"{failed}: {exc}") from exc
    return answer


def _install(pending: AgentKeys, keys: AgentKeys) -> None:
    """The pending key becomes the agent's key (an atomic rename), the old one is gone."""
    os.replace(pending.state_dir / PRIVATE_KEY_FILE, keys.state_dir / PRIVATE_KEY_FILE)
    shutil.rmtree(pending.state_dir, ignore_errors=True)
    keys.reload()


def _parse(answer: Any) -> Enrolment:
    try:
        key = protocol.unb64(str(answer["collector_public_key"]), "collector_public_key")
        if len(key) != 32:
            raise ProtocolError("collector_public_key is not a 32-byte Ed25519 key")
        return Enrolment(
            agent_id=str(answer["agent_id"]),
            department=str(answer["department"]),
            collector_public_key=key,
            collector_key_id=str(answer["collector_key_id"]),
        )
    except (KeyError, TypeError, ProtocolError) as exc:
        raise EnrolError(f"the collector's enrolment answer is malformed ({exc})") from exc
