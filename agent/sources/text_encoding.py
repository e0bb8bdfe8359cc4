"""The one rule for a source's ``encoding``, and the checks that make a wrong one stop.

The rule (docs/mapping.md, section 8): ``encoding`` is the character set the legacy
database keeps its text in. Set it (``gbk``, ``gb18030``) for a GBK-era database; leave it
unset for a Unicode (UTF-8) one. Whatever the driver, the agent then checks the setting
against what the database says about its text where the database can say:

- MariaDB/MySQL: the character set of each text column of a table read;
- PostgreSQL: the encoding the driver hands text over in (the ANSI driver: the client
  encoding; the Unicode driver: the database's own);
- SQLite: always UTF-8.

Text is decoded strictly, and only with multibyte encodings: a single-byte one such as
latin-1 decodes any byte, so a wrong setting would store garbled names (and a garbled
``秘密`` would no longer be recognised as secret) instead of stopping.
"""

from __future__ import annotations

import codecs

from agent.errors import ConfigError

#: Python codecs accepted for ``encoding``: Unicode and the Chinese multibyte sets.
ACCEPTED = ("utf-8", "gbk", "gb2312", "gb18030", "big5", "big5hkscs", "cp950")
#: Character sets of the GB family: GB2312 within GBK within GB18030.
GB = frozenset({"gb2312", "gbk", "gb18030", "euc_cn", "cp936"})


def check_setting(encoding: str, where: str) -> str:
    """The codec name of a configured encoding; ConfigError when it is not accepted."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise ConfigError(
            f"{where}.encoding: unknown text encoding {encoding!r}; use 'gbk' or 'gb18030' "
            "for a GBK-era database, or leave it out for a Unicode one / 未知的字符编码"
        ) from None
    if name not in ACCEPTED:
        raise ConfigError(
            f"{where}.encoding: {encoding!r} decodes any byte, so a wrong setting would store "
            "garbled names instead of stopping. encoding is the character set the database "
            "keeps its text in: 'gbk' or 'gb18030' for a GBK-era database; leave it out for "
            f"a Unicode one; accepted: {', '.join(ACCEPTED)} / 不支持该字符编码,请设置为数据库"
            "实际使用的字符集(如 gbk、gb18030),Unicode 数据库请不要设置"
        )
    return name


def family(charset: str | None) -> str | None:
    """What a character set must agree with: "unicode", "gb", another codec's name, or
    None when any setting fits (ASCII, binary, or a name we do not know)."""
    if charset is None:
        return "unicode"
    low = charset.strip().lower().replace("-", "_")
    if low.startswith("utf") or low.startswith("ucs") or low == "unicode":
        return "unicode"
    if low in GB:
        return "gb"
    if low in ("ascii", "sql_ascii", "binary", "us_ascii"):
        return None
    try:
        name = codecs.lookup(low).name
    except LookupError:
        return None
    return "gb" if name in GB else name


def setting_for(charset: str) -> str:
    """How to write the setting that fits a database character set."""
    if family(charset) == "unicode":
        return "leave encoding out (delete the line)"
    low = charset.lower()
    name = "gbk" if low in ("gb2312", "euc_cn", "cp936") else low
    return f'set encoding = "{name}"'


def mismatch(source: str, place: str, charset: str, configured: str | None) -> str:
    """The message for text kept in ``charset`` read with the ``configured`` setting."""
    now = f'encoding = "{configured}"' if configured else "encoding is not set (Unicode)"
    fix = setting_for(charset)
    return (
        f"source {source!r}, {place}: the database keeps this text in {charset}, but the "
        f"source's {now}. How to fix: {fix} in the [[sources]] table named {source!r} of the "
        "agent config (encoding is the character set the database keeps its text in; see "
        f"docs/mapping.md) / 数据库以 {charset} 保存文本,与数据源的 encoding 设置不符;请修改"
        f"数据源 {source!r} 的 encoding 设置"
    )


def undecodable_column(rows: list[tuple[str, bytes]], encoding: str) -> str | None:
    """The first column whose raw text does not decode strictly in ``encoding``."""
    for column, raw in rows:
        try:
            raw.decode(encoding)
        except UnicodeDecodeError:
            return column
    return None
