"""Liveness and readiness for load balancers and operators.

``/healthz`` is liveness: the process answers (no store access, so it stays cheap under load).
``/readyz`` is readiness: the store answers a query and is at the migration this collector
was started on; otherwise 503 with the reason, so a load balancer sends agents elsewhere.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from exchange_spec.protocol import error_body

from ..errors import StoreError
from ..store.migrate import current_revision
from .context import Context

log = logging.getLogger("esup.collector")

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz(ctx: Context) -> dict[str, str]:
    """Liveness: the process answers; names the collector's key (``esup-agent check`` reads it)."""
    return {"status": "ok", "collector_key_id": ctx.key.key_id}


@router.get(
    "/readyz",
    responses={503: {"description": "the store cannot be reached or is at another migration"}},
)
def readyz(request: Request, ctx: Context) -> Any:
    """Readiness: the store answers and is at this collector's migration; 503 with a reason."""
    expected = request.app.state.store_revision
    try:
        revision = current_revision(ctx.engine)
    except StoreError as exc:
        # The driver's words name the database host and user: the log keeps them, the
        # unauthenticated answer does not.
        log.warning("readiness: %s", exc)
        return _unready(
            "store_unavailable",
            "采集中心数据库无法连接，暂不能接收数据",
            "the store cannot be reached (the collector's log says why)",
            "check that the database server runs and store_url is right; agents keep their "
            "data and retry",
        )
    if revision != expected:
        return _unready(
            "store_migration_mismatch",
            f"数据库结构版本为 {revision}，本采集中心需要 {expected}",
            f"the store is at migration {revision}, this collector runs on {expected}",
            "restart this collector with the release that migrated the store, or run "
            "esup-collector db upgrade",
        )
    return {"status": "ready", "store_revision": revision}


def _unready(code: str, zh: str, en: str, hint: str) -> JSONResponse:
    body = {"status": "unavailable", **error_body(code, zh, en, hint)}
    return JSONResponse(body, status_code=503)
