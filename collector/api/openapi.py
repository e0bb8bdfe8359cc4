"""Request-body descriptions for the OpenAPI document.

The handlers read their bodies themselves (gzip, size bound, one refusal format), so FastAPI
cannot infer these; they are written here for people and client generators.
"""

from __future__ import annotations

from typing import Any

_MANIFEST = {
    "type": "object",
    "required": ["protocol", "kind", "agent_id", "created_at", "nonce"],
    "properties": {
        "protocol": {"const": "esup/1"},
        "kind": {"type": "string"},
        "agent_id": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "nonce": {"type": "string", "minLength": 16, "maxLength": 64},
    },
}


def body(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


ENROL = body(
    "A one-time token from `esup-collector agents token` and the agent's public key.",
    {
        "type": "object",
        "required": ["token", "public_key"],
        "properties": {
            "token": {"type": "string"},
            "public_key": {"type": "string", "description": "base64 raw Ed25519 (32 bytes)"},
            "hostname": {"type": "string"},
            "agent_version": {"type": "string"},
            "department": {
                "type": "string",
                "description": "the agent's configured BMBM; a different token department is "
                "refused (409 department_mismatch) and the token stays unused",
            },
        },
    },
)


def envelope(description: str, extra: dict[str, Any]) -> dict[str, Any]:
    return body(
        description + " May be gzip-encoded (Content-Encoding: gzip).",
        {
            "type": "object",
            "required": ["manifest", "signature", *extra],
            "properties": {"manifest": _MANIFEST, "signature": {"type": "string"}, **extra},
        },
    )


BATCH = envelope(
    "A signed batch (see exchange_spec.protocol).",
    {
        "records": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["seq", "record"],
                "properties": {"seq": {"type": "integer", "minimum": 1}, "record": {}},
            },
        }
    },
)
HEARTBEAT = envelope("A signed heartbeat; body_hash = frame_hash(heartbeat).", {"heartbeat": {}})
ROTATE = envelope(
    "A rotate manifest carrying new_public_key and new_key_proof (the new key's signature "
    "over protocol.rotate_proof_frame), signed with the current key.",
    {},
)
