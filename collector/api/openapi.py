"""The OpenAPI document: request bodies and signature headers, and the pages that show it.

The handlers read their bodies themselves (signature first, gzip, size bound, one refusal
format), so FastAPI cannot infer these; they are written here for people and client
generators. The pages (/docs, /redoc, /openapi.json) exist only when the settings'
``api_docs`` is on, and load Swagger UI and ReDoc from files shipped in a wheel
(fastapi-offline), never from a CDN: the bureau's networks are closed.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from exchange_spec import protocol

#: Where the Swagger UI and ReDoc files are served from (the fastapi-offline package).
ASSETS = "/docs/assets"

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


_HEADER_TEXT = {
    protocol.AGENT_HEADER: "the agent id received at enrolment",
    protocol.TIME_HEADER: "ISO 8601 time with offset, within the collector's clock skew",
    protocol.NONCE_HEADER: "16..60 characters of A-Z a-z 0-9 _ -, new for every request",
    protocol.SIGNATURE_HEADER: (
        "base64 Ed25519 over exchange_spec.protocol.request_signing_bytes: method, path, "
        "agent, time, nonce, content-encoding and the SHA-256 of the body bytes as sent"
    ),
}
SIGNED_HEADERS = [
    {
        "name": name,
        "in": "header",
        "required": True,
        "description": text,
        "schema": {"type": "string"},
    }
    for name, text in _HEADER_TEXT.items()
]


def envelope(description: str, extra: dict[str, Any]) -> dict[str, Any]:
    described = body(
        description + " May be gzip-encoded (Content-Encoding: gzip). Refused with 401 "
        "before it is read unless the request signature headers verify.",
        {
            "type": "object",
            "required": ["manifest", "signature", *extra],
            "properties": {"manifest": _MANIFEST, "signature": {"type": "string"}, **extra},
        },
    )
    described["parameters"] = SIGNED_HEADERS
    return described


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


def install_docs(app: FastAPI) -> None:
    """Serve /openapi.json, /docs (Swagger UI) and /redoc (ReDoc) from packaged files."""
    title = f"{app.title} API"
    app.mount(ASSETS, StaticFiles(directory=str(files("fastapi_offline") / "static")), "docs")

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=title,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            # null: no badge fetched from the online validator
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=title,
            redoc_js_url=f"{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
