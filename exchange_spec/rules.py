"""Named rules: the checks a JSON Schema cannot express.

Each rule has a stable code (``rule.<name>``), a bilingual title for the documentation and a
bilingual message naming the field and how to fix it. Two scopes:

- record rules look at one record (run by :func:`exchange_spec.validate_record`), with the
  date bounds the validator uses (:mod:`exchange_spec.date_bounds`);
- record-set rules compare records of one case (grouped by SBLSH) within a set of records,
  e.g. one file (run by :func:`exchange_spec.validate_record_set` and ``esup-spec validate``).
  They keep only a few facts per case (a time, its SJBBH and where the record was), never
  whole records, so a file of millions of records is checked in small memory.

Rules are written defensively (a field may have the wrong type when the schema has already
failed) and never look at the wall clock: validation is a pure function of the records.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, Generic, TypeVar

from .date_bounds import DateBounds
from .problem import Problem
from .records import CASE_TYPES, RECORD_TYPES
from .records import version as record_version
from .schema_store import code_table, fields_with_format, resolved_schema
from .wording import field_en, field_zh, is_placeholder, shown

#: A record rule: the record and the validator's date bounds -> its problems.
RecordCheck = Callable[[Mapping[str, Any], DateBounds], Sequence[Problem]]

#: What a record rule returns when all is well: shared, so the valid path allocates nothing.
NO_PROBLEMS: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class Rule:
    """A named rule as documented: code, titles, scope and the record types it concerns."""

    code: str
    title_zh: str
    title_en: str
    scope: str  # "record" | "set"
    record_types: tuple[str, ...]
    check: RecordCheck | None = None  # record rules only


# --- record rules ---------------------------------------------------------------------------


def _refusal_needs_reason(record: Mapping[str, Any], _bounds: DateBounds) -> Sequence[Problem]:
    status = record.get("SLZTDM")
    if status in ("2", "4") and is_placeholder(record.get("BSLYY")):
        label = code_table("SLZTDM").label(str(status))
        zh, en = (label.zh, label.en) if label else ("", "")
        return [
            Problem(
                "rule.refusal_needs_reason",
                "BSLYY",
                f"SLZTDM 为 {status}({zh})时必须在 {field_zh('SL', 'BSLYY')} 写明原因;"
                f"当前为 {shown(record.get('BSLYY'))}(空值或“无”“/”等占位值不算原因)",
                f"SLZTDM {status} ({en}) needs the reason in {field_en('SL', 'BSLYY')}; it is "
                f'{shown(record.get("BSLYY"))} (empty values and placeholders such as "无" or '
                '"/" are not a reason)',
                "SL",
            )
        ]
    return NO_PROBLEMS


def _return_needs_reason(record: Mapping[str, Any], _bounds: DateBounds) -> Sequence[Problem]:
    result = record.get("BJJGDM")
    if result in ("1", "2") and is_placeholder(record.get("ZFHTHYY")):
        label = code_table("BJJGDM").label(str(result))
        zh, en = (label.zh, label.en) if label else ("", "")
        return [
            Problem(
                "rule.return_needs_reason",
                "ZFHTHYY",
                f"BJJGDM 为 {result}({zh})时必须在 {field_zh('BJ', 'ZFHTHYY')} 写明原因;"
                f"当前为 {shown(record.get('ZFHTHYY'))}",
                f"BJJGDM {result} ({en}) needs the reason in {field_en('BJ', 'ZFHTHYY')}; it is "
                f"{shown(record.get('ZFHTHYY'))}",
                "BJ",
            )
        ]
    return NO_PROBLEMS


#: Time limits and the field holding their unit (G working days / Z natural days).
LIMIT_UNITS: dict[str, tuple[tuple[str, str], ...]] = {
    "SL": (("GDBLSX", "GDBLSXDW"),),
    "TBCXSQ": (("TBCXSX", "TBCXSXDW"),),
    "SX": (("FDSX", "FDSXDW"), ("CNSX", "CNSXDW")),
}


def _limit_needs_unit(record: Mapping[str, Any], _bounds: DateBounds) -> Sequence[Problem]:
    rt = str(record.get("type"))
    problems: list[Problem] | None = None
    for limit, unit in LIMIT_UNITS.get(rt, ()):
        has_limit, has_unit = limit in record, unit in record
        if has_limit and not has_unit:
            problems = problems or []  # allocated only when something is wrong
            problems.append(
                Problem(
                    "rule.limit_needs_unit",
                    unit,
                    f"{field_zh(rt, limit)} 为 {shown(record[limit])},但缺少单位 "
                    f"{field_zh(rt, unit)};请填 G(工作日)或 Z(自然日)",
                    f"{field_en(rt, limit)} is {shown(record[limit])} but its unit "
                    f"{field_en(rt, unit)} is missing; give G (working days) or Z (natural days)",
                    rt,
                )
            )
        elif has_unit and not has_limit:
            problems = problems or []  # allocated only when something is wrong
            problems.append(
                Problem(
                    "rule.limit_needs_unit",
                    limit,
                    f"有单位 {field_zh(rt, unit)} 却没有时限 {field_zh(rt, limit)};"
                    "请填上时限天数,或删除单位",
                    f"{field_en(rt, unit)} is given without the limit {field_en(rt, limit)}; "
                    "give the number of days or drop the unit",
                    rt,
                )
            )
    return problems or NO_PROBLEMS


def _promise_within_legal(record: Mapping[str, Any], _bounds: DateBounds) -> Sequence[Problem]:
    legal, promised = record.get("FDSX"), record.get("CNSX")
    if (
        isinstance(legal, int)
        and isinstance(promised, int)
        and record.get("FDSXDW") == record.get("CNSXDW")
        and promised > legal
    ):
        unit = record.get("CNSXDW")
        return [
            Problem(
                "rule.promise_exceeds_legal",
                "CNSX",
                f"承诺时限 CNSX={promised}{unit} 长于法定时限 FDSX={legal}{unit};"
                "承诺时限不能超过法定时限,请核对事项目录",
                f"the promised limit CNSX={promised}{unit} is longer than the legal limit "
                f"FDSX={legal}{unit}; a promise cannot exceed the law: check the catalogue",
                "SX",
            )
        ]
    return NO_PROBLEMS


#: Identifying or naming fields where a placeholder ("无", "/", "null") hides missing data.
PLACEHOLDER_FIELDS = ("SBLSH", "SXBM", "SXMC", "BMBM", "BMMC", "SQRMC", "SFXMBM", "SFXMMC")
_LONGEST_PLACEHOLDER = 8  # padded placeholders such as " 无 " still count


@cache
def _placeholder_fields(record_type: str) -> tuple[str, ...]:
    props = resolved_schema(record_type).get("properties", {})
    return tuple(f for f in PLACEHOLDER_FIELDS if f in props)


def _no_placeholder(record: Mapping[str, Any], _bounds: DateBounds) -> Sequence[Problem]:
    rt = str(record.get("type"))
    problems: list[Problem] | None = None
    for field in _placeholder_fields(rt):
        value = record.get(field)
        # placeholders are short: the length test keeps the valid path cheap
        if (
            isinstance(value, str)
            and 0 < len(value) <= _LONGEST_PLACEHOLDER
            and is_placeholder(value)
        ):
            problems = problems or []  # allocated only when something is wrong
            problems.append(
                Problem(
                    "rule.placeholder_value",
                    field,
                    f"字段 {field_zh(rt, field)} 的值 {shown(value)} 是占位值,不是真实数据;"
                    "请在源系统补录真实值,或在映射中改从正确的列取值",
                    f"field {field_en(rt, field)} holds the placeholder {shown(value)}, not "
                    "real data; enter the real value in the source system or map the right "
                    "column",
                    rt,
                )
            )
    return problems or NO_PROBLEMS


@cache
def _time_fields(record_type: str) -> tuple[tuple[str, bool], ...]:
    """(field, is a date-time) for every time and date field of a record type."""
    times = fields_with_format(record_type, "time")
    return tuple((f, True) for f in times) + tuple(
        (f, False) for f in fields_with_format(record_type, "date")
    )


def _real_time(record: Mapping[str, Any], _bounds: DateBounds) -> Sequence[Problem]:
    rt = record.get("type")
    problems: list[Problem] | None = None
    for field, is_time in _time_fields(str(rt)):
        value = record.get(field)
        # the schema's pattern already bounds month, hour, minute and second: only a day
        # above 28 can be unreal, so only those are parsed (keeps the valid path cheap)
        if not isinstance(value, str) or value[8:10] <= "28":
            continue
        try:
            if is_time:
                datetime.fromisoformat(value)
            else:
                date.fromisoformat(value)
        except ValueError:
            problems = problems or []  # allocated only when something is wrong
            problems.append(
                Problem(
                    "rule.time_not_real",
                    field,
                    f"字段 {field_zh(str(rt), field)} 的值 {shown(value)} 不是真实存在的日期或时间"
                    "(例如 2 月 30 日);请核对源数据",
                    f"field {field_en(str(rt), field)} has value {shown(value)}, which is not a "
                    "real date or time (such as 30 February); check the source data",
                    str(rt),
                )
            )
    return problems or NO_PROBLEMS


def _date_in_range(record: Mapping[str, Any], bounds: DateBounds) -> Sequence[Problem]:
    rt = str(record.get("type"))
    problems: list[Problem] | None = None
    for field, _ in _time_fields(rt):
        value = record.get(field)
        # a text comparison of the date part: no parsing on the valid path
        if not isinstance(value, str) or bounds.admits(value):
            continue
        low, high = bounds.earliest.isoformat(), bounds.latest.isoformat()
        problems = problems or []  # allocated only when something is wrong
        problems.append(
            Problem(
                "rule.date_out_of_range",
                field,
                f"字段 {field_zh(rt, field)} 的值 {shown(value)} 超出允许的日期范围 {low} 至 "
                f"{high};请在源系统中改为真实的日期(9999-12-31 之类是占位值或录入错误,"
                "不是日期);确需此范围以外的日期时,请联系监察局调整允许范围",
                f"field {field_en(rt, field)} has value {shown(value)}, outside the allowed "
                f"dates {low} .. {high}; correct it to the real date in the source system "
                "(9999-12-31 and the like are placeholders or typing slips, not dates); if "
                "dates outside that range are real, ask the bureau to widen the range",
                rt,
            )
        )
    return problems or NO_PROBLEMS


#: The record types that carry times or dates (the catalogue, SX and SF, carries none).
_TIMED_TYPES = tuple(t for t in RECORD_TYPES if t not in ("SX", "SF"))

RECORD_RULES: tuple[Rule, ...] = (
    Rule(
        "rule.refusal_needs_reason",
        "不受理或不予受理必须写明原因 BSLYY",
        "Not accepting or refusing (SLZTDM 2 or 4) needs a reason in BSLYY",
        "record",
        ("SL",),
        _refusal_needs_reason,
    ),
    Rule(
        "rule.return_needs_reason",
        "退回或作废必须写明原因 ZFHTHYY",
        "Returning or voiding (BJJGDM 1 or 2) needs a reason in ZFHTHYY",
        "record",
        ("BJ",),
        _return_needs_reason,
    ),
    Rule(
        "rule.limit_needs_unit",
        "时限与时限单位(G 工作日 / Z 自然日)必须同时出现",
        "A time limit and its unit (G working days / Z natural days) go together",
        "record",
        tuple(LIMIT_UNITS),
        _limit_needs_unit,
    ),
    Rule(
        "rule.promise_exceeds_legal",
        "承诺时限 CNSX 不得长于同单位的法定时限 FDSX",
        "The promised limit CNSX is not longer than the legal limit FDSX in the same unit",
        "record",
        ("SX",),
        _promise_within_legal,
    ),
    Rule(
        "rule.placeholder_value",
        "编码和名称字段不得填“无”“/”“null”等占位值",
        'Codes and names are not placeholders such as "无", "/" or "null"',
        "record",
        (*CASE_TYPES, "SX", "SF"),
        _no_placeholder,
    ),
    Rule(
        "rule.time_not_real",
        "时间和日期必须真实存在(不能是 2 月 30 日)",
        "Times and dates exist on the calendar (no 30 February)",
        "record",
        _TIMED_TYPES,
        _real_time,
    ),
    Rule(
        "rule.date_out_of_range",
        "时间和日期必须在允许范围内(默认 2000-01-01 至 2100-12-31)",
        "Times and dates lie within the allowed range (by default 2000-01-01 .. 2100-12-31)",
        "record",
        _TIMED_TYPES,
        _date_in_range,
    ),
)

# --- record-set rules ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Order:
    """Within one case, the time of ``later`` must not be before the time of ``earlier``."""

    code: str
    earlier: str  # record type
    later: str
    by_xh: bool  # compare records with the same XH (correction / special procedure number)


ORDER_RULES: tuple[_Order, ...] = (
    _Order("rule.completion_before_acceptance", "SL", "BJ", False),
    _Order("rule.special_end_before_start", "TBCXSQ", "TBCXJG", True),
    _Order("rule.correction_before_notice", "BZGZ", "BZSL", True),
)

SET_RULES: tuple[Rule, ...] = (
    Rule(
        "rule.completion_before_acceptance",
        "同一办件的办结时间 BJSJ 不得早于受理时间 SLSJ",
        "Within a case, the completion time BJSJ is not before the acceptance time SLSJ",
        "set",
        ("SL", "BJ"),
    ),
    Rule(
        "rule.special_end_before_start",
        "同一特别程序(SBLSH + XH)的结束时间 TBCXJSRQ 不得早于开始时间 TBCXKSRQ",
        "A special procedure (SBLSH + XH) does not end (TBCXJSRQ) before it starts (TBCXKSRQ)",
        "set",
        ("TBCXSQ", "TBCXJG"),
    ),
    Rule(
        "rule.correction_before_notice",
        "同一补正(SBLSH + XH)的补交时间 BZSJ 不得早于补交告知时间 BZGZSJ",
        "A correction (SBLSH + XH) is not received (BZSJ) before it was asked for (BZGZSJ)",
        "set",
        ("BZGZ", "BZSL"),
    ),
)

#: Every named rule, record rules first (documentation order).
RULES: tuple[Rule, ...] = RECORD_RULES + SET_RULES

_TIME_FIELD = {
    "SL": "SLSJ",
    "BJ": "BJSJ",
    "TBCXSQ": "TBCXKSRQ",
    "TBCXJG": "TBCXJSRQ",
    "BZGZ": "BZGZSJ",
    "BZSL": "BZSJ",
}
_BY_XH = {"TBCXSQ", "TBCXJG", "BZGZ", "BZSL"}

Ref = TypeVar("Ref")


class RecordSetChecker(Generic[Ref]):
    """Collects the few facts record-set rules need, then reports the violations.

    ``add(record, ref)`` for every record (``ref`` says where it came from: an index, a line
    number); ``problems()`` at the end yields ``(ref, Problem)`` for each violation, against
    the later record of the pair. Of several versions of a record the highest SJBBH counts.
    Memory: one small tuple per case and time-carrying record type, never the records.
    """

    def __init__(self) -> None:
        # SBLSH -> slot ("SL", "BJ", "TBCXSQ#2", ...) -> (SJBBH, time text, ref) of the
        # highest version seen; times are parsed again only when the rules run
        self._cases: dict[str, dict[str, tuple[int, str, Ref]]] = {}

    def add(self, record: Mapping[str, Any], ref: Ref) -> None:
        rt = record.get("type")
        field = _TIME_FIELD.get(rt) if isinstance(rt, str) else None
        if field is None:
            return
        sblsh = record.get("SBLSH")
        text = record.get(field)
        if not isinstance(sblsh, str) or not isinstance(text, str):
            return
        # interned: a file has few distinct slot names but many records carrying them
        slot = sys.intern(f"{rt}#{record.get('XH')}" if rt in _BY_XH else str(rt))
        version = record_version(record)
        facts = self._cases.get(sblsh)
        if facts is None:
            facts = self._cases[sblsh] = {}
        known = facts.get(slot)
        if known is None or version >= known[0]:
            facts[slot] = (version, text, ref)

    def problems(self) -> Iterator[tuple[Ref, Problem]]:
        for _sblsh, ref, problem in self.problems_by_case():
            yield ref, problem

    def problems_by_case(self) -> Iterator[tuple[str, Ref, Problem]]:
        """Like :meth:`problems`, with the SBLSH of the case first."""
        for sblsh, facts in self._cases.items():
            for rule in ORDER_RULES:
                for ref, problem in _check_order(rule, sblsh, facts):
                    yield sblsh, ref, problem

    def __len__(self) -> int:
        """Number of cases (SBLSH) seen."""
        return len(self._cases)


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None  # the record's own validation reports it
    # a time without offset is a schema problem; naive and aware times do not compare
    return moment if moment.tzinfo is not None else None


def _check_order(
    rule: _Order, sblsh: str, facts: Mapping[str, tuple[int, str, Ref]]
) -> Iterator[tuple[Ref, Problem]]:
    for slot, (_, later_text, later_ref) in facts.items():
        kind, _, xh = slot.partition("#")
        if kind != rule.later:
            continue
        earlier = facts.get(f"{rule.earlier}#{xh}" if rule.by_xh else rule.earlier)
        if earlier is None:
            continue
        earlier_text = earlier[1]
        later_at, earlier_at = _moment(later_text), _moment(earlier_text)
        if later_at is None or earlier_at is None or later_at >= earlier_at:
            continue
        lf, ef = _TIME_FIELD[rule.later], _TIME_FIELD[rule.earlier]
        scope_zh = f"SBLSH={sblsh}" + (f",XH={xh}" if rule.by_xh else "")
        scope_en = f"SBLSH {sblsh}" + (f", XH {xh}" if rule.by_xh else "")
        yield (
            later_ref,
            Problem(
                rule.code,
                lf,
                f"{rule.later} 记录的 {field_zh(rule.later, lf)} {later_text} 早于同一办件"
                f"({scope_zh}){rule.earlier} 记录的 {field_zh(rule.earlier, ef)} "
                f"{earlier_text};请核对两条记录的时间",
                f"{field_en(rule.later, lf)} {later_text} of the {rule.later} record is before "
                f"{field_en(rule.earlier, ef)} {earlier_text} of the {rule.earlier} record of "
                f"the same case ({scope_en}); check the times of both records",
                rule.later,
            ),
        )


@cache
def record_checks(record_type: str) -> tuple[RecordCheck, ...]:
    """The record rules that apply to a record type, in documentation order."""
    return tuple(
        rule.check
        for rule in RECORD_RULES
        if rule.check is not None and record_type in rule.record_types
    )
