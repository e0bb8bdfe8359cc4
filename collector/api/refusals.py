"""The one place where the HTTP API speaks to people: collector errors become error_body JSON."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from exchange_spec import protocol
from exchange_spec.protocol import error_body, utc_now_iso

from ..errors import AgentRevoked, CollectorError, EnrolmentError, IngestRefused, StoreError

log = logging.getLogger("collector.api")


async def _render(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, IngestRefused | EnrolmentError):
        body = error_body(exc.code, exc.message_zh, exc.message_en, exc.hint)
        # The agent corrects its clock from this when a batch is refused as stale.
        body["collector_time"] = utc_now_iso()
        if isinstance(exc, AgentRevoked):
            # Signed, so that an agent stops on this answer and on no proxy's 403.
            key = request.app.state.ctx.key
            frame = protocol.refusal(exc.agent_id, exc.manifest, exc.code, key.key_id)
            body["refusal"] = frame
            body["refusal_signature"] = protocol.sign(key.private_key, frame)
        return JSONResponse(body, status_code=exc.status)
    if isinstance(exc, StoreError):
        log.error("store failure: %s", exc)
        body = error_body(
            "store_unavailable",
            "采集中心数据库暂时不可用，请稍后重试",
            "the collector's store is unavailable; retry later",
            "the agent keeps its buffer and retries by itself",
        )
        return JSONResponse(body, status_code=503)
    log.error("collector error: %s", exc)
    body = error_body("collector_error", "采集中心内部错误", "internal collector error", str(exc))
    return JSONResponse(body, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(CollectorError, _render)
