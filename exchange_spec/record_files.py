"""Reading record files: JSON Lines (streamed line by line) or one JSON array.

A JSON Lines line that is not JSON is an invalid record (reported with its line); a file
that cannot be opened or is not UTF-8 text is unreadable (:class:`UnreadableInput`).
A JSON array file is read whole: use JSON Lines for large files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from .errors import UnreadableInput


class Entry(NamedTuple):
    """One record of a file, or the reason its line is not JSON (a tuple: cheap per line)."""

    line: int  # JSON Lines: line number (from 1); JSON array: position of the item (from 1)
    value: Any  # the parsed JSON value, or None when ``error`` is set
    error: str | None = None  # why the line is not JSON
    size: int = 0  # bytes consumed, for progress


def _unreadable(path: Path, zh: str, en: str) -> UnreadableInput:
    return UnreadableInput(f"{path}: {en}", f"{path}:{zh}")


def _first_byte(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise _unreadable(
            path,
            f"无法打开文件({exc.strerror or exc});请检查路径和读取权限",
            f"cannot open the file ({exc.strerror or exc}); check the path and permissions",
        ) from exc
    return head[:1]


def is_json_array_file(path: Path) -> bool:
    """True when the file's first non-blank character is ``[`` (one JSON array)."""
    return _first_byte(path) == b"["


def read_entries(path: Path) -> Iterator[Entry]:
    """The records of a JSON Lines or JSON array file, one :class:`Entry` each.

    Blank lines are skipped. Raises :class:`UnreadableInput` when the file cannot be opened,
    is not UTF-8, or is a JSON array that does not parse.
    """
    if is_json_array_file(path):
        yield from _read_array(path)
        return
    try:
        handle = path.open("rb")
    except OSError as exc:  # pragma: no cover - _first_byte opened it a moment ago
        raise _unreadable(path, f"无法打开文件({exc})", f"cannot open the file ({exc})") from exc
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                # strict UTF-8 decoding in C is the fast path; a BOM may open the file
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise _not_utf8(path, number, exc) from exc
            if not text.strip():
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Entry(number, None, _json_error(exc), len(raw))
                continue
            yield Entry(number, value, None, len(raw))


def _not_utf8(path: Path, line: int, exc: UnicodeDecodeError) -> UnreadableInput:
    return _unreadable(
        path,
        f"第 {line} 行不是 UTF-8 编码的文本(第 {exc.start + 1} 个字节);请把文件另存为 UTF-8"
        "(从中文 Windows 工具导出的文件常是 GBK,可用 iconv -f GBK -t UTF-8 转换)",
        f"line {line} is not UTF-8 text (byte {exc.start + 1}); save the file as UTF-8 "
        "(exports from Chinese Windows tools are often GBK: iconv -f GBK -t UTF-8 converts them)",
    )


def _json_error(exc: json.JSONDecodeError) -> str:
    # the line is parsed with its newline: an error past the content is at the end of the line
    if exc.pos >= len(exc.doc.rstrip()):
        return f"{exc.msg}, at the end of the line"
    return f"{exc.msg}, at character {exc.pos + 1}"


def _read_array(path: Path) -> Iterator[Entry]:
    try:
        data = json.loads(path.read_bytes())
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, 1, exc) from exc
    except json.JSONDecodeError as exc:
        raise _unreadable(
            path,
            f"文件以 [ 开头,但不是合法的 JSON 数组:第 {exc.lineno} 行第 {exc.colno} 列 "
            f"{exc.msg};请修正该处,或改用每行一条记录的 JSON Lines 格式",
            f"the file starts with [ but is not a valid JSON array: line {exc.lineno} column "
            f"{exc.colno}: {exc.msg}; fix it there, or use JSON Lines (one record per line)",
        ) from exc
    except OSError as exc:
        raise _unreadable(path, f"无法读取文件({exc})", f"cannot read the file ({exc})") from exc
    if not isinstance(data, list):  # pragma: no cover - starts with "[" so it is a list
        raise _unreadable(path, "不是 JSON 数组", "not a JSON array")
    for position, value in enumerate(data, start=1):
        yield Entry(position, value, None, 0)
