"""POST /api/v1/batches: verify a signed batch, store every record, answer a signed receipt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from exchange_spec import content_hash, protocol
from exchange_spec.errors import ProtocolError

from ..errors import IngestRefused
from ..store import evidence
from ..store.backlog import record_backlog
from ..store.ingest import RecordWriter, Source
from . import openapi
from .context import AppContext, Context
from .door import client_address, read_signed_json
from .envelopes import malformed, verify_envelope

router = APIRouter(prefix="/api/v1", tags=["ingest"])


def _tampered(detail_zh: str, detail_en: str) -> IngestRefused:
    return IngestRefused(
        400,
        "tampered",
        f"批次内容与签名清单不符：{detail_zh}；整批不予接收",
        f"the batch does not match its signed manifest: {detail_en}; the whole batch is refused",
        "the records were changed after signing; the agent must resend them from its outbox",
    )


def _records_of(
    envelope: Mapping[str, Any], manifest: Mapping[str, Any]
) -> list[tuple[int, Any, str | None]]:
    """Return the records in manifest order after checking they are exactly what was signed."""
    records = envelope.get("records")
    items = manifest.get("items")
    if not isinstance(records, list) or not isinstance(items, list) or not items:
        raise malformed("缺少 records 或 items", "records or manifest items are missing")
    signed: dict[int, str] = {}
    for item in items:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int)):
            raise malformed("items 必须是 [seq, hash] 列表", "items must be [seq, hash] pairs")
        if item[0] < 1 or item[0] in signed:
            raise malformed("seq 必须为正且不重复", "seqs must be positive and unique")
        signed[item[0]] = str(item[1])
    if manifest.get("seq_first") != min(signed) or manifest.get("seq_last") != max(signed):
        raise _tampered(
            "seq_first/seq_last 与 items 不符", "seq_first/seq_last disagree with items"
        )
    by_seq: dict[int, Any] = {}
    for entry in records:
        if not isinstance(entry, dict) or not isinstance(entry.get("seq"), int):
            raise malformed("records 每项须为 {seq, record}", "each record must be {seq, record}")
        if entry["seq"] in by_seq:
            raise _tampered(f"seq {entry['seq']} 出现两次", f"seq {entry['seq']} appears twice")
        by_seq[entry["seq"]] = entry.get("record")
    if set(by_seq) != set(signed):
        extra, missing = sorted(set(by_seq) - set(signed)), sorted(set(signed) - set(by_seq))
        raise _tampered(
            f"多出的 seq {extra}，缺少的 seq {missing}",
            f"extra seqs {extra}, missing seqs {missing}",
        )
    for seq, digest in signed.items():
        record = by_seq[seq]
        try:
            actual = content_hash(record) if isinstance(record, dict) else ""
        except ValueError as exc:  # NaN, Infinity or an integer beyond 2**53: no JSON hash
            raise malformed(
                f"seq {seq} 含有无法规范化的数字",
                f"seq {seq} holds a number JSON cannot carry ({exc})",
            ) from exc
        if actual != digest:
            raise _tampered(
                f"seq {seq} 的内容哈希不符", f"seq {seq} does not hash to its signed hash"
            )
    return [(seq, by_seq[seq], signed[seq]) for seq in sorted(signed)]


def ingest_batch(
    ctx: AppContext, envelope: Any, remote_addr: str, *, sender: str | None
) -> dict[str, Any]:
    """Verify and store one batch in ONE transaction; return the signed receipt. ``sender``:
    the agent the request's signature authenticated (None only for callers in this process
    that hold no request, such as benchmarks and tests)."""
    now = ctx.now()
    with ctx.transaction() as conn:
        verified = verify_envelope(
            conn,
            envelope,
            "batch",
            now=now,
            skew_seconds=ctx.settings.skew_seconds,
            sender=sender,
        )
        records = _records_of(envelope, verified.manifest)
        agent = verified.agent
        try:
            reported = protocol.read_backlog(verified.manifest)
        except ProtocolError as exc:
            raise malformed("清单中的 backlog 格式错误", str(exc)) from exc
        if reported is not None:
            # Same transaction as the records: a sweep that sees them also sees this.
            record_backlog(conn, agent.agent_id, reported, reported_at=verified.created_at, now=now)
        manifest_hash = protocol.frame_hash(verified.manifest)
        batch_id = evidence.keep_batch(
            conn,
            agent.agent_id,
            verified.manifest,
            verified.signature,
            manifest_hash,
            now=now,
            remote_addr=remote_addr,
        )
        source = Source(name=agent.agent_id, department=agent.department, agent_id=agent.agent_id)
        writer = RecordWriter(
            conn, source, now=now, batch_id=batch_id, date_bounds=ctx.settings.date_bounds
        )
        outcomes = writer.store_many(records)
        rejected = [{"seq": o.seq, **p} for o in outcomes for p in o.problems]
        receipt = protocol.receipt(
            agent.agent_id,
            verified.manifest,
            [seq for seq, _, _ in records],
            rejected,
            ctx.key.key_id,
        )
        answer = {"receipt": receipt, "signature": protocol.sign(ctx.key.private_key, receipt)}
        evidence.attach_receipt(conn, batch_id, answer)
    return answer


@router.post("/batches", openapi_extra=openapi.BATCH)
async def post_batch(request: Request, ctx: Context) -> dict[str, Any]:
    """Accept a signed batch (JSON or gzip JSON); answer a receipt signed by the collector."""
    sender, envelope = await read_signed_json(request, ctx, ctx.settings.max_json_bytes)
    ctx.maybe_sweep_nonces()
    return await run_in_threadpool(
        ingest_batch, ctx, envelope, client_address(request), sender=sender.agent_id
    )
