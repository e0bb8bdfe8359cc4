"""Conversions of one legacy value: cleaning, times, numbers, masking and keyed hashing.

Every function takes what the driver returned and either gives the spec value or raises
``ValueProblem`` with words for department IT; none of them does I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_PLACEHOLDERS = ("", "无", "/", "null", "NULL", "Null", "none", "None")

#: Legacy time formats tried in order when a field does not list its own.
AUTO_TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y%m%d%H%M%S",
    "%Y%m%d%H%M",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%Y年%m月%d日",
    "%Y.%m.%d",
)


class ValueProblem(Exception):
    """A legacy value cannot become a spec value."""

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(message_en)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en


def clean(value: Any, placeholders: frozenset[str], trim: bool = True) -> Any:
    """Trim text; legacy placeholders for "nothing" ('无', '/', 'null', '') become None."""
    if isinstance(value, bytes | bytearray):
        raise ValueProblem(
            "mapping.binary_value",
            "该列是二进制数据,请检查数据源的字符编码设置(encoding)",
            "the column holds bytes, not text: check the source's encoding setting",
        )
    if isinstance(value, str):
        text = value.strip() if trim else value
        return None if text in placeholders or text.strip() in placeholders else text
    return value


def parse_time(value: Any, zone: ZoneInfo, formats: tuple[str, ...]) -> datetime:
    """A legacy time (text in one of ``formats``, SQL datetime or date) as an aware time.

    Naive times are local times of ``zone``; aware ones are converted to it.
    """
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | Decimal) and not isinstance(value, bool):
        value = str(value)  # 20260924100000 stored as a number
    if moment is None and isinstance(value, str):
        text = value.strip()
        for fmt in formats:
            try:
                moment = datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        if moment is None and formats == AUTO_TIME_FORMATS:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                moment = None
    if moment is None:
        raise ValueProblem(
            "mapping.bad_time",
            f"无法识别的时间 {value!r};请在映射文件该字段的 formats 中加入它的格式",
            f"cannot read {value!r} as a time; add its format to the field's 'formats'",
        )
    if moment.tzinfo is None:
        return moment.replace(tzinfo=zone)
    return moment.astimezone(zone)


def to_int(value: Any) -> int:
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return value
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        number = Decimal("NaN")
    if number.is_finite() and number == number.to_integral_value():
        return int(number)
    raise ValueProblem(
        "mapping.bad_number",
        f"{value!r} 不是整数",
        f"{value!r} is not a whole number",
    )


def to_decimal(value: Any, places: int) -> int | float:
    """A number for JSON: an int when whole, else a float rounded to ``places`` decimals."""
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise ValueProblem(
            "mapping.bad_number", f"{value!r} 不是数字", f"{value!r} is not a number"
        )
    number = round(number, places)
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def mask(text: str, keep_start: int, keep_end: int, char: str) -> str:
    """Keep the first/last characters, replace the rest: 430702********1234."""
    if len(text) <= keep_start + keep_end:
        return char * len(text)  # too short to show any part safely
    middle = len(text) - keep_start - keep_end
    return text[:keep_start] + char * middle + (text[len(text) - keep_end :] if keep_end else "")


def keyed_hash(text: str, key: bytes) -> str:
    """HMAC-SHA256 with the agent's local secret: equal inputs stay comparable, the raw
    value cannot be recovered without the key."""
    return "hmac:" + hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()
