"""Validation of records against the spec.

Two paths over one schema per record type:

- the yes/no path compiles the resolved schema with fastjsonschema (lazily, once per type)
  and then runs the record rules: this is what a valid record costs;
- only when that says "no", :mod:`exchange_spec.explain` re-checks with jsonschema to word
  every problem with its field path, Chinese and English.

Record-set rules (order of times within a case) need several records: see
:func:`validate_record_set` and :class:`exchange_spec.rules.RecordSetChecker`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

import fastjsonschema

from .date_bounds import DEFAULT_DATE_BOUNDS, DateBounds
from .problem import Problem
from .records import RECORD_TYPES, SPEC_VERSION
from .rules import RecordSetChecker, record_checks
from .schema_store import resolved_schema
from .wording import shown

__all__ = [
    "DEFAULT_DATE_BOUNDS",
    "DateBounds",
    "Problem",
    "is_valid",
    "validate_record",
    "validate_record_set",
    "validate_records",
]


@cache
def _fast(record_type: str) -> Callable[[Any], Any]:
    schema = resolved_schema(record_type)
    # only the schema decides; no defaults written into records, no format plug-ins
    validator: Callable[[Any], Any] = fastjsonschema.compile(
        schema, use_default=False, use_formats=False
    )
    return validator


def _envelope_problem(record: Any) -> Problem | None:
    """Problems that stop validation before any schema: not an object, spec, type."""
    if not isinstance(record, Mapping):
        return Problem(
            "schema.not_object",
            "",
            f"每条记录必须是一个 JSON 对象 {{...}},这里是 {shown(record)}",
            f"every record must be a JSON object {{...}}; this is {shown(record)}",
        )
    rtype = record.get("type")
    if rtype not in RECORD_TYPES:
        types = ", ".join(RECORD_TYPES)
        if rtype is None:
            return Problem(
                "schema.record_type",
                "type",
                f"记录缺少记录类型字段 type;应为以下之一:{types}",
                f"the record has no record type field type; it must be one of: {types}",
            )
        return Problem(
            "schema.record_type",
            "type",
            f"未知的记录类型 type={shown(rtype)};应为以下之一:{types}",
            f"unknown record type type={shown(rtype)}; it must be one of: {types}",
        )
    spec = record.get("spec")
    if spec != SPEC_VERSION:
        from .explain import spec_problem

        return spec_problem(spec, str(rtype))
    return None


def validate_record(
    record: Mapping[str, Any], bounds: DateBounds = DEFAULT_DATE_BOUNDS
) -> list[Problem]:
    """Every problem of one record; an empty list means the record is valid.

    ``bounds``: the dates a record may carry (default 2000-01-01 .. 2100-12-31). Fast on the
    valid path (one compiled check plus the record rules); problems are explained only when
    there are some.
    """
    rtype = record.get("type") if type(record) is dict else None
    if rtype not in RECORD_TYPES or record.get("spec") != SPEC_VERSION:
        envelope = _envelope_problem(record)
        if envelope is not None:
            return [envelope]
        rtype = record.get("type")
        record = dict(record)  # a Mapping that is not a dict: the validators want a dict
    assert isinstance(rtype, str)
    problems: list[Problem] = []
    try:
        _fast(rtype)(record)
    except fastjsonschema.JsonSchemaValueException as exc:
        # jsonschema is imported only when a record fails: the valid path never needs it
        from .explain import explain

        problems = explain(record, rtype)
        if not problems:  # both validators read the same schema; this is a safety net
            problems = [
                Problem(
                    "schema.invalid",
                    "",
                    f"{rtype} 记录不符合规范:{exc.message}",
                    f"{rtype} record does not follow the spec: {exc.message}",
                    rtype,
                )
            ]
    for check in record_checks(rtype):
        found = check(record, bounds)
        if found:
            problems.extend(found)
    if len(problems) > 1:
        problems = _one_per_path(problems)
    return problems


def _one_per_path(problems: list[Problem]) -> list[Problem]:
    """Drop rule problems on a field that already has a schema problem (one cause each)."""
    schema_paths = {p.path for p in problems if p.code.startswith("schema.")}
    return [p for p in problems if p.code.startswith("schema.") or p.path not in schema_paths]


def is_valid(record: Mapping[str, Any], bounds: DateBounds = DEFAULT_DATE_BOUNDS) -> bool:
    """True when the record has no problem (the fast path only; nothing is explained)."""
    rtype = record.get("type") if isinstance(record, Mapping) else None
    if rtype not in RECORD_TYPES or record.get("spec") != SPEC_VERSION:
        return False
    assert isinstance(rtype, str)
    try:
        _fast(rtype)(record)
    except fastjsonschema.JsonSchemaValueException:
        return False
    return not any(check(record, bounds) for check in record_checks(rtype))


def validate_record_set(records: Iterable[Mapping[str, Any]]) -> list[tuple[int, Problem]]:
    """Problems of the record-set rules over records of any number of cases.

    Returns ``(index, problem)`` pairs, ``index`` being the position of the offending record
    in ``records`` (from 0). Records that are not objects are ignored here.
    """
    checker: RecordSetChecker[int] = RecordSetChecker()
    for index, record in enumerate(records):
        if isinstance(record, Mapping):
            checker.add(record, index)
    return sorted(checker.problems(), key=lambda pair: pair[0])


def validate_records(
    records: Iterable[Mapping[str, Any]], bounds: DateBounds = DEFAULT_DATE_BOUNDS
) -> list[tuple[int, Problem]]:
    """Every problem of a set of records: each record's own, then the record-set rules."""
    checker: RecordSetChecker[int] = RecordSetChecker()
    found: list[tuple[int, Problem]] = []
    for index, record in enumerate(records):
        found.extend((index, p) for p in validate_record(record, bounds))
        if isinstance(record, Mapping):
            checker.add(record, index)
    found.extend(checker.problems())
    return sorted(found, key=lambda pair: pair[0])
