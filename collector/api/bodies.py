"""Request bodies: read as sent within a byte limit, then inflated and parsed as JSON.

Reading happens on the event loop (it only waits for the network and hashes); inflating and
parsing are CPU and memory work, done by :func:`decode_json` in a worker thread (see
:mod:`collector.api.door`). Every refusal is an IngestRefused that says what is wrong, where
in the body, and how to fix it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import zlib
from typing import Any

from fastapi import Request
from starlette.requests import ClientDisconnect

from exchange_spec import protocol

from ..errors import IngestRefused

#: Deepest nesting of objects and arrays a body may have: envelopes and records are a few
#: levels deep, and the store, hashing and canonical JSON all recurse over what is accepted.
MAX_DEPTH = 32
#: Integers JSON carries exactly (RFC 8785 / I-JSON): the signed hashes need an exact form.
MAX_SAFE_INTEGER = 2**53 - 1
#: A lone surrogate cannot be written as UTF-8, so nothing could hash or store it.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
#: ... and a NUL cannot be stored in a PostgreSQL text column (enrolment fields go there;
#: a record holding one is refused on its own by the record checks, not with the batch).
_NOT_TEXT = re.compile("[\x00\ud800-\udfff]")
_FIX_JSON = (
    "the agent builds this JSON itself: upgrade or repair the agent. A hand-written client must "
    "send one UTF-8 JSON object (RFC 8259) with finite numbers"
)


def malformed(what_zh: str, what_en: str, hint: str = _FIX_JSON) -> IngestRefused:
    return IngestRefused(
        400, "malformed", f"请求格式错误：{what_zh}", f"malformed request: {what_en}", hint
    )


def too_large(
    limit: int, what_zh: str = "请求体", what_en: str = "the request body"
) -> IngestRefused:
    return IngestRefused(
        413,
        "too_large",
        f"{what_zh}超过上限 {limit} 字节",
        f"{what_en} exceeds the limit of {limit} bytes",
        "send smaller batches (agent setting [outbox] batch_max_bytes) or raise max_body_bytes / "
        "max_json_bytes on the collector",
    )


def unsupported_encoding(encoding: str) -> IngestRefused:
    return IngestRefused(
        415,
        "unsupported_encoding",
        f"不支持的压缩方式 {encoding}",
        f"Content-Encoding {encoding!r} is not supported",
        "send plain JSON or gzip",
    )


def encoding_of(request: Request) -> str:
    """The request's Content-Encoding, refused unless it is one the collector inflates."""
    encoding = protocol.content_encoding(request.headers.get("content-encoding"))
    if encoding not in ("identity", "gzip"):
        raise unsupported_encoding(encoding)
    return encoding


async def read_raw(request: Request, limit: int) -> tuple[bytes, str]:
    """The body as sent and its SHA-256 (hex), never holding more than ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)  # refused before a byte is read
    raw = bytearray()
    digest = hashlib.sha256()
    try:
        async for chunk in request.stream():
            raw.extend(chunk)
            if len(raw) > limit:
                raise too_large(limit)
            digest.update(chunk)
    except ClientDisconnect as exc:
        # Nobody reads this answer; it ends the request quietly (no traceback in the log).
        raise malformed(
            "请求体未发送完连接即断开",
            f"the client disconnected after {len(raw)} bytes of the body",
            "check the network between the agent and the collector",
        ) from exc
    return bytes(raw), digest.hexdigest()


def inflate(raw: bytes, limit: int) -> bytes:
    """Gunzip ``raw``; inflating stops as soon as the output passes ``limit`` bytes."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        data = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise malformed(
            "gzip 数据损坏", f"the gzip body is corrupt ({exc})", "send the body gzip-compressed"
        ) from exc
    if len(data) > limit or inflater.unconsumed_tail:
        raise too_large(limit, "解压后的请求体", "the decompressed request body")
    if not inflater.eof:
        raise malformed("gzip 数据不完整", "the gzip body is truncated", "send the whole body")
    if inflater.unused_data:
        raise malformed(
            "gzip 数据之后还有多余内容",
            "there are bytes after the end of the gzip stream",
            "send exactly one gzip member",
        )
    return data


def decode_json(raw: bytes, encoding: str, limit: int, *, plain_text: bool = False) -> Any:
    """Inflate (when gzip), decode UTF-8, parse JSON and check the tree (``plain_text``: no
    NUL in any string either). CPU work: call it in a worker thread."""
    data = inflate(raw, limit) if encoding == "gzip" else raw
    if len(data) > limit:
        raise too_large(limit)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise malformed(
            f"第 {exc.start} 字节处不是 UTF-8 编码",
            f"the body is not UTF-8 at byte {exc.start}",
            "send the JSON encoded as UTF-8",
        ) from exc
    try:
        value = json.loads(text, parse_int=_parse_int)
    except RecursionError as exc:
        raise _too_deep("$") from exc
    except json.JSONDecodeError as exc:
        raise malformed(
            f"第 {exc.lineno} 行第 {exc.colno} 列不是合法的 JSON（{exc.msg}）",
            f"the body is not valid JSON at line {exc.lineno} column {exc.colno} "
            f"(character {exc.pos}): {exc.msg}",
        ) from exc
    check_tree(value, plain_text=plain_text)
    return value


class _LongInteger(str):
    """An integer literal too long to convert (Python refuses past 4,300 digits): kept as its
    text so :func:`check_tree` can say where it is."""


def _parse_int(text: str) -> int | _LongInteger:
    return int(text) if len(text) <= 40 else _LongInteger(text)


def _too_deep(where: str) -> IngestRefused:
    return malformed(
        f"{where} 处嵌套超过 {MAX_DEPTH} 层",
        f"the JSON at {where} is nested deeper than {MAX_DEPTH} levels",
    )


def _path(chain: tuple[Any, ...] | None) -> str:
    keys: list[str | int] = []
    while chain is not None:
        chain, key = chain
        keys.append(key)
    out = "$"
    for key in reversed(keys):
        out += f"[{key}]" if isinstance(key, int) else f".{key}"
    return out


def check_tree(value: Any, *, plain_text: bool = False) -> None:
    """Refuse what parses as JSON but cannot be hashed, signed or stored: nesting beyond
    MAX_DEPTH, NaN and infinities, integers beyond ±(2**53 - 1), lone surrogates (and NUL
    with ``plain_text``)."""
    bad_text = _NOT_TEXT if plain_text else _LONE_SURROGATE
    # Iterative, so no input can exhaust the stack; the path is built only for a refusal.
    stack: list[tuple[Any, tuple[Any, ...] | None, int]] = [(value, None, 0)]
    while stack:
        node, chain, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth >= MAX_DEPTH:
                raise _too_deep(_path(chain))
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                if isinstance(key, str) and bad_text.search(key):
                    raise _unstorable_text(_path(chain), "键名", "key")
                stack.append((child, (chain, key), depth + 1))
        elif isinstance(node, _LongInteger):
            raise _out_of_range(_path(chain), f"{node[:20]}…")
        elif isinstance(node, str):
            if bad_text.search(node):
                raise _unstorable_text(_path(chain), "文本", "text")
        elif isinstance(node, bool) or node is None:
            continue
        elif isinstance(node, int):
            if abs(node) > MAX_SAFE_INTEGER:
                raise _out_of_range(_path(chain), str(node))
        elif isinstance(node, float) and not math.isfinite(node):
            where = _path(chain)
            raise malformed(
                f"{where} 处的数值 {node} 不是有限数（JSON 不允许 NaN/Infinity）",
                f"the number at {where} is {node}, which JSON does not allow",
                "send a finite number, or leave the field out",
            )


def _out_of_range(where: str, shown: str) -> IngestRefused:
    return malformed(
        f"{where} 处的整数 {shown} 超出 JSON 可精确表示的范围（±9007199254740991）",
        f"the integer {shown} at {where} is beyond what JSON carries exactly (±{MAX_SAFE_INTEGER})",
        "send integers within ±9007199254740991; larger values as strings",
    )


def _unstorable_text(where: str, what_zh: str, what_en: str) -> IngestRefused:
    return malformed(
        f"{where} 处的{what_zh}含有 NUL 字符或不成对的代理项（无法存储的字符）",
        f"the {what_en} at {where} holds a NUL character or a lone surrogate",
        "remove control characters and send text as valid UTF-8",
    )
