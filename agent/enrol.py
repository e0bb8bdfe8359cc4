"""Enrolment: trade a one-time token for an agent id and pin the collector's key.

The agent sends its public key; the collector answers with the agent id, the department
the token was issued for and its own signing key, which is pinned in the state directory
(checked against a fingerprint given out of band, when there is one).
"""

from __future__ import annotations

import socket
from typing import Any

import httpx

from exchange_spec import protocol
from exchange_spec.errors import ProtocolError

from . import __version__
from .errors import EnrolError, PushError, PushRefused
from .signing import AgentKeys, Enrolment
from .transport import post_json

ENROL_PATH = "/api/v1/enrol"


def enrol(
    client: httpx.Client,
    keys: AgentKeys,
    *,
    token: str,
    department: str,
    collector_fingerprint: str = "",
) -> Enrolment:
    body = {
        "token": token,
        "public_key": protocol.b64(keys.public_key_raw),
        "hostname": socket.gethostname(),
        "agent_version": __version__,
    }
    try:
        _, answer = post_json(client, ENROL_PATH, body)
    except PushRefused as exc:
        raise EnrolError(
            f"the collector refused the enrolment: {exc}. Fix: ask the operator for a new "
            "token (tokens are single-use and expire) / 注册被拒绝，请索取新的注册令牌"
        ) from exc
    except PushError as exc:
        raise EnrolError(f"enrolment failed: {exc}") from exc
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
    keys.save_enrolment(enrolment)
    return enrolment


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
