"""The human-readable spec (docs/exchange-spec.md), generated from the schemas and code tables.

``esup-spec docs --output docs/exchange-spec.md`` writes it; a test fails when the committed
file differs from what this module renders, so the document can never drift from the data.
"""

from __future__ import annotations

from typing import Any

from .date_bounds import WIDEST
from .records import CASE_TYPES, KEY_FIELDS, RECORD_TYPES, SPEC_VERSION, TIME_FIELDS
from .rules import RULES
from .schema_store import CODE_TABLE_KEYWORD, FORMAT_KEYWORD, code_table, resolved_schema
from .wording import type_en, type_zh

_FORMAT_WORDS = {
    "time": "时间 time (ISO 8601 + offset)",
    "date": "日期 date (YYYY-MM-DD)",
    "xzqhdm": "6 位数字 6 digits",
    "sha256": "SHA-256 hex",
    "code": "编码 code (A–Z a–z 0–9 . _ -)",
}

SCHEMA_PROBLEMS = (
    ("schema.not_object", "记录不是 JSON 对象", "the record is not a JSON object"),
    ("schema.record_type", "缺少或未知的记录类型 type", "missing or unknown record type"),
    ("schema.spec", "缺少或不支持的规范版本 spec", "missing or unsupported spec version"),
    ("schema.required", "缺少必填字段", "a required field is missing"),
    ("schema.unknown_field", "规范未定义的字段", "a field the spec does not define"),
    ("schema.type", "JSON 类型不对(如数字写成了字符串)", "wrong JSON type"),
    ("schema.enum", "不在代码表中的代码", "a code not in its code table"),
    ("schema.const", "固定值不对", "a fixed value (type, CONTENT_TYPE) is wrong"),
    ("schema.format", "格式不对(时间、日期、区划代码、编码)", "wrong form (time, date, code)"),
    ("schema.length", "空字符串或过长", "empty or too long string"),
    ("schema.range", "数值超出范围(如 SJBBH < 1)", "number out of range (e.g. SJBBH < 1)"),
    ("schema.invalid", "其他不符合规范的情况", "any other schema failure"),
    ("input.not_json", "(命令行)该行不是 JSON", "(command line) the line is not JSON"),
)


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _type_words(prop: dict[str, Any]) -> str:
    if CODE_TABLE_KEYWORD in prop:
        table = prop[CODE_TABLE_KEYWORD]
        return f"代码 code [{table}](#{table.lower()})"
    if "const" in prop:
        return f"固定值 const `{prop['const']}`"
    fmt = prop.get(FORMAT_KEYWORD)
    if fmt in _FORMAT_WORDS:
        size = f", ≤ {prop['maxLength']}" if fmt == "code" else ""
        return _FORMAT_WORDS[str(fmt)] + size
    kind = prop.get("type", "")
    if kind == "string":
        limits = f"{prop.get('minLength', 0)}–{prop['maxLength']}" if "maxLength" in prop else ""
        return f"字符串 string({limits})" if limits else "字符串 string"
    if kind in ("integer", "number"):
        low = prop.get("minimum")
        high = prop.get("maximum")
        bounds = f" ≥ {low}" if low is not None else ""
        bounds += f", ≤ {high}" if high is not None else ""
        return ("整数 integer" if kind == "integer" else "数字 number") + bounds
    if kind == "object":
        return "对象 object"
    return str(kind)


def _record_section(rtype: str) -> list[str]:
    schema = resolved_schema(rtype)
    required = set(schema.get("required", []))
    out = [
        f"### {rtype} {type_zh(rtype)} ({type_en(rtype)})",
        "",
        str(schema.get("description", "")),
        "",
        f"- 业务键 Business key: `{' + '.join(('type', *KEY_FIELDS[rtype]))}`"
        + ("; 版本 version: `SJBBH`" if "SJBBH" in schema["properties"] else ""),
    ]
    time_field = TIME_FIELDS.get(rtype)
    if time_field:
        out.append(f"- 事件时间 Event time: `{time_field}`")
    rules = [r.code for r in RULES if rtype in r.record_types]
    if rules:
        out.append("- 规则 Rules: " + ", ".join(f"`{c}`" for c in rules))
    out += [
        "",
        "| 字段 Field | 中文名 | 类型 Type | 必填 Required | 说明 Description |",
        "|---|---|---|---|---|",
    ]
    for name, prop in schema["properties"].items():
        out.append(
            f"| `{name}` | {_cell(prop.get('title', ''))} | {_cell(_type_words(prop))} | "
            f"{'是 yes' if name in required else ''} | {_cell(prop.get('description', ''))} |"
        )
    out.append("")
    return out


def _code_users() -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for rtype in RECORD_TYPES:
        for name, prop in resolved_schema(rtype)["properties"].items():
            table = prop.get(CODE_TABLE_KEYWORD)
            if table:
                users.setdefault(table, []).append(f"{rtype}.{name}")
    return users


_CASE_NUMBER_SECTION = (
    "## 办件编号 Case numbers (SBLSH)",
    "",
    "- 结构 Structure: 行政区划代码 + 部门代码 + 序号, e.g. `430702` `0301` `2026000001`: the "
    "6-digit region code (XZQHDM), the department part the bureau assigns to the department, "
    "then the department's own serial (often year + 6-digit number). "
    "See `exchange_spec.case_numbers`.",
    "- 前缀 Prefix: region + department part (`4307020301`) starts every case number the "
    "department issues. The bureau registers each department's prefixes with the collector; "
    "prefixes of two departments never overlap.",
    "- 归属 Ownership: a case belongs to one department, decided when the collector first "
    "sees it: (1) the registered prefix its number starts with; else (2) the department whose "
    "catalogue (SX) held the record's item SXBM first; else (3) the department that delivered it "
    "first. A record for another department's case is refused with `foreign_case`; only the "
    "bureau moves a case between departments.",
    "",
)


def render_markdown() -> str:
    """The whole spec document as Markdown."""
    out: list[str] = [
        f"# 数据交换规范 {SPEC_VERSION} / City data-exchange spec {SPEC_VERSION}",
        "",
        "<!-- 本文件由 `esup-spec docs --output docs/exchange-spec.md` 从 exchange_spec/schemas "
        "和 exchange_spec/codes 生成,请勿手工修改。Generated from the schemas and code tables: "
        "do not edit by hand. -->",
        "",
        "## 记录格式 Record format",
        "",
        "- 每条记录是一个扁平的 JSON 对象。Each record is one flat JSON object: "
        f'`{{"spec": "{SPEC_VERSION}", "type": "SL", "SBLSH": ..., "SXBM": ..., "BMBM": ..., '
        '"XZQHDM": ..., "SJBBH": 1, ...}`.',
        "- 字段名是拼音首字母代码(如 SBLSH 申办流水号)。Wire field names are the pinyin "
        "codes; each has a Chinese name and an English description below.",
        "- 时间必须带时区偏移。Times are ISO 8601 with a UTC offset, e.g. "
        "`2026-09-24T10:00:00+08:00`; a time without offset is an error.",
        "- 时间和日期须在允许范围内(默认 2000-01-01 至 2100-12-31,按记录中写的日期比较)。"
        "Times and dates lie within the allowed range, by default 2000-01-01 .. 2100-12-31 "
        "(the date as written is compared): a date such as 9999-12-31 is a placeholder or a "
        "typing slip and is refused (`rule.date_out_of_range`). Whoever validates may move "
        f"the range within {WIDEST[0]} .. {WIDEST[1]} (the collector's `record_dates_from` / "
        "`record_dates_to` settings, `esup-spec validate --earliest/--latest`). Time limits "
        "(GDBLSX, TBCXSX, FDSX, CNSX) are 1..3650 days.",
        '- 代码是字符串(`"1"` 而不是 `1`)。Codes are strings.',
        "- 规范未定义的字段是错误。Unknown fields are errors naming the field "
        "(additionalProperties false). Leave a field out when it has no value.",
        "- 传输数据(采集端编号、序号、签名)不属于记录。Transport data (agent id, sequence "
        "numbers, signatures) is not part of a record; see `exchange_spec.protocol`.",
        "- 同一记录每次重发或更正 SJBBH 加 1,以最大者为准。Every resend or correction of the "
        "same record (same business key) carries a higher SJBBH; the highest wins.",
        "- 内容哈希 Content hash: SHA-256 over the RFC 8785 canonical form (keys sorted, no "
        "whitespace, shortest numbers): the same record hashes the same whatever its key "
        "order or number formatting.",
        "",
        *_CASE_NUMBER_SECTION,
        "## 记录类型 Record types",
        "",
        "| type | 中文 | English | 业务键 Business key | 事件时间 Event time |",
        "|---|---|---|---|---|",
    ]
    for rtype in RECORD_TYPES:
        out.append(
            f"| `{rtype}` | {type_zh(rtype)} | "
            f"{type_en(rtype)} | {', '.join(KEY_FIELDS[rtype])} | {TIME_FIELDS[rtype] or ''} |"
        )
    out += ["", "## 案件记录 Case records", ""]
    for rtype in CASE_TYPES:
        out += _record_section(rtype)
    out += ["## 目录与运行记录 Catalogue and operational records", ""]
    for rtype in RECORD_TYPES:
        if rtype not in CASE_TYPES:
            out += _record_section(rtype)
    out += ["## 代码表 Code tables", ""]
    users = _code_users()
    for name in sorted(users):
        table = code_table(name)
        out += [
            f"### {name}",
            "",
            f"{table.title} ({table.description}). 用于 Used by: "
            + ", ".join(f"`{u}`" for u in users[name]),
            "",
            "| 代码 Code | 中文 | English |",
            "|---|---|---|",
        ]
        out += [f"| `{c.code}` | {_cell(c.zh)} | {_cell(c.en)} |" for c in table.codes]
        out.append("")
    out += [
        "## 规则 Rules",
        "",
        "Checks a schema cannot express. Record rules look at one record; record-set rules "
        "compare the records of one case (same SBLSH) within a set of records, e.g. one file "
        "(of several versions of a record, the highest SJBBH counts). Validation never looks "
        "at the wall clock.",
        "",
        "| 代码 Code | 范围 Scope | 记录 Types | 中文 | English |",
        "|---|---|---|---|---|",
    ]
    for rule in RULES:
        scope = "单条 record" if rule.scope == "record" else "办件 record set"
        out.append(
            f"| `{rule.code}` | {scope} | {', '.join(rule.record_types)} | "
            f"{_cell(rule.title_zh)} | {_cell(rule.title_en)} |"
        )
    out += [
        "",
        "## 问题代码 Problem codes",
        "",
        "Every problem has a stable code, a field path and a message in Chinese and English.",
        "",
        "| 代码 Code | 中文 | English |",
        "|---|---|---|",
    ]
    out += [f"| `{code}` | {zh} | {en} |" for code, zh, en in SCHEMA_PROBLEMS]
    out += ["", *_CLI_SECTION]
    return "\n".join(out) + "\n"


_CLI_SECTION = [
    "## 程序接口 Library",
    "",
    "```python",
    "from exchange_spec import validate_record, is_valid, validate_records, content_hash",
    "from exchange_spec import DateBounds",
    "",
    "problems = validate_record(record)   # [] when valid; else Problem(code, path,",
    "                                     #   message_zh, message_en, record_type)",
    "validate_record(record, DateBounds(date(2000, 1, 1), date(2030, 12, 31)))",
    "                                     # other date bounds (default 2000-01-01..2100-12-31)",
    "is_valid(record)                     # the fast yes/no, nothing explained",
    "validate_records(records)            # [(index, Problem)], record and record-set rules",
    "content_hash(record)                 # SHA-256 hex of the RFC 8785 canonical form",
    "```",
    "",
    "## 命令行 Command line",
    "",
    "```",
    "esup-spec validate FILE... [--format text|json] [--earliest YYYY-MM-DD] [--latest YYYY-MM-DD]",
    "esup-spec docs [--output docs/exchange-spec.md] [--check]",
    "esup-spec show TYPE_OR_CODE_TABLE",
    "```",
    "",
    "`validate` reads JSON Lines (one record per line, streamed: memory grows only with the "
    "number of distinct cases, for the record-set rules) or a file holding one JSON array "
    "(read whole). Exit status: `0` every record valid; `1` some record invalid (a line "
    "that is not JSON is an invalid record, code `input.not_json`); `2` a file could not be "
    "read (missing, not UTF-8, a JSON array that does not parse).",
    "",
    "`--format json` prints one JSON object per line:",
    "",
    '- `{"kind": "problem", "file", "line" (or "item" for a JSON array), "record_type", '
    '"SBLSH", "code", "path", "message_zh", "message_en"}` for every problem;',
    '- `{"kind": "unreadable", "file", "message_zh", "message_en"}` for a file that cannot '
    "be read;",
    '- last, `{"kind": "summary", "files", "unreadable_files", "records", "invalid", "exit"}`.',
    "",
    "`show` prints the self-contained JSON Schema (code tables inlined as `enum`) for use "
    "with any JSON Schema 2020-12 tool, or a code table.",
]
