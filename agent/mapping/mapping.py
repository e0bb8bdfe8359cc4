"""The mapping of one source: legacy rows in, spec records (or the reason why not) out."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from collections.abc import Mapping as AnyMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.errors import ConfigError
from exchange_spec.records import CASE_TYPES, RECORD_TYPES, SPEC_VERSION
from exchange_spec.validate import validate_record

from . import file_checks as check
from . import spec_catalogue
from .exclusion import Exclusion, compile_exclusions, find_column
from .field_rules import Context, FieldRule, Getter, compile_rule
from .values import DEFAULT_PLACEHOLDERS, ValueProblem

TOP_KEYS = ("spec", "timezone", "placeholders", "constants", "exclude", "types")
TYPE_KEYS = ("fields", "constants", "exclude")


@dataclass(frozen=True)
class MapResult:
    """What became of one legacy row."""

    status: str  # "ok" | "excluded" | "invalid"
    record: dict[str, Any] | None  # the spec record (partial when invalid, None when excluded)
    problems: list[dict[str, str]] = field(default_factory=list)
    reason: str = ""  # why excluded


@dataclass(frozen=True)
class _TypeRules:
    fields: dict[str, FieldRule]
    constants: dict[str, Any]
    exclusions: tuple[Exclusion, ...]


@dataclass(frozen=True)
class _CompiledType:
    """A record type's rules ready for rows: what every record starts with, the compiled
    fields in file order, and every exclusion rule that applies (file-wide first)."""

    start: dict[str, Any]
    getters: tuple[tuple[str, Getter], ...]
    exclusions: tuple[Exclusion, ...]


def _problem(
    code: str, path: str, message_zh: str, message_en: str, record_type: str
) -> dict[str, str]:
    return {
        "code": code,
        "path": path,
        "message_zh": message_zh,
        "message_en": message_en,
        "record_type": record_type,
    }


class Mapping:
    """Rules turning rows of a legacy database into spec records, read from a TOML file."""

    def __init__(
        self,
        types: dict[str, _TypeRules],
        exclusions: tuple[Exclusion, ...],
        context: Context,
        where: str,
    ) -> None:
        self._types = types
        self._exclusions = exclusions
        self._context = context
        self.where = where
        self._compiled = {rtype: self._compile(rtype, rules) for rtype, rules in types.items()}

    def _compile(self, record_type: str, rules: _TypeRules) -> _CompiledType:
        start: dict[str, Any] = {"spec": SPEC_VERSION, "type": record_type}
        start.update(rules.constants)
        if record_type in CASE_TYPES or spec_catalogue.has_field(record_type, "SJBBH"):
            start.setdefault("SJBBH", 1)
        return _CompiledType(
            start=start,
            getters=tuple((name, rule.bind(self._context)) for name, rule in rules.fields.items()),
            exclusions=(*self._exclusions, *rules.exclusions),
        )

    @classmethod
    def load(cls, path: str | Path, *, hmac_key: bytes, timezone: str | None = None) -> Mapping:
        """Read a mapping file. ``timezone`` (the source's) overrides the file's own."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(
                f"{path}: cannot read the mapping file ({exc.strerror}); check the source's "
                "'mapping' path in the agent config / 无法读取映射文件,请检查配置中的 mapping 路径"
            ) from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{path}: the mapping file is not UTF-8; save it as UTF-8 / 映射文件须为 UTF-8 编码"
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc} / 映射文件不是合法的 TOML") from exc
        return cls.from_dict(data, hmac_key=hmac_key, where=str(path), timezone=timezone)

    @classmethod
    def from_dict(
        cls,
        data: dict[str, Any],
        *,
        hmac_key: bytes,
        where: str = "mapping",
        timezone: str | None = None,
    ) -> Mapping:
        data = dict(check.table(data, where))
        check.known_keys(data, TOP_KEYS, where)
        if "spec" in data and str(data["spec"]) != SPEC_VERSION:
            raise ConfigError(
                f"{where}.spec: this agent speaks spec {SPEC_VERSION}, the file says "
                f"{data['spec']!r} / 映射文件的规范版本与本程序不符"
            )
        zone_name = timezone or (
            check.typed(data, "timezone", str, where) if "timezone" in data else "Asia/Shanghai"
        )
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"{where}.timezone: unknown time zone {zone_name!r}; use e.g. 'Asia/Shanghai' "
                "/ 未知时区"
            ) from None
        placeholders = frozenset(
            check.string_list(data, "placeholders", where)
            if "placeholders" in data
            else DEFAULT_PLACEHOLDERS
        )
        constants = dict(check.table(data.get("constants", {}), f"{where}.constants"))
        exclusions = compile_exclusions(data.get("exclude", []), f"{where}.exclude")
        raw_types = check.table(data.get("types", {}), f"{where}.types")
        if not raw_types:
            raise ConfigError(
                f"{where}.types: no record types are mapped; add e.g. [types.SL.fields] / "
                "映射文件中没有任何记录类型"
            )
        types: dict[str, _TypeRules] = {}
        for rtype, raw in raw_types.items():
            at = f"{where}.types.{rtype}"
            if rtype not in RECORD_TYPES:
                raise ConfigError(
                    f"{at}: unknown record type {rtype!r}; {check.hint(rtype, RECORD_TYPES)} / "
                    "未知的记录类型"
                )
            raw = check.table(raw, at)
            check.known_keys(raw, TYPE_KEYS, at)
            type_constants = dict(check.table(raw.get("constants", {}), f"{at}.constants"))
            raw_fields = check.table(raw.get("fields", {}), f"{at}.fields")
            fields: dict[str, FieldRule] = {}
            for name in type_constants:
                cls._check_field_name(rtype, name, f"{at}.constants.{name}")
            for name in raw_fields:
                cls._check_field_name(rtype, name, f"{at}.fields.{name}")
            for name, spec in raw_fields.items():
                fields[name] = compile_rule(
                    spec,
                    f"{at}.fields.{name}",
                    spec_catalogue.allowed_codes(rtype, name) if _has_codes(spec) else None,
                    spec_catalogue.value_kind(rtype, name),
                )
            # File-wide constants go to the types whose records have the field (SF records
            # have no BMMC, for instance); per-type constants are checked strictly above.
            shared = {
                k: v
                for k, v in constants.items()
                if spec_catalogue.has_field(rtype, k) is not False
            }
            types[rtype] = _TypeRules(
                fields=fields,
                constants={**shared, **type_constants},
                exclusions=compile_exclusions(raw.get("exclude", []), f"{at}.exclude"),
            )
        for name in constants:
            if not any(spec_catalogue.has_field(t, name) is not False for t in types):
                cls._check_field_name(next(iter(types)), name, f"{where}.constants.{name}")
        for rtype, rules in types.items():
            _check_exclusion_fields(rtype, (*exclusions, *rules.exclusions), rules)
        context = Context(
            zone=zone, hmac_key=hmac_key, placeholders=placeholders, constants=constants
        )
        return cls(types, exclusions, context, where)

    @staticmethod
    def _check_field_name(rtype: str, name: str, where: str) -> None:
        if spec_catalogue.has_field(rtype, name) is False:
            hint = check.hint(name, spec_catalogue.field_names(rtype))
            raise ConfigError(
                f"{where}: the spec has no field {name!r} in {rtype} records"
                + (f"; {hint}" if hint else "")
                + f" / 规范的 {rtype} 记录中没有字段 {name}"
            )

    def record_types(self) -> list[str]:
        return list(self._types)

    def missing_exclusion_columns(
        self, record_type: str, columns: Iterable[str], table: str
    ) -> list[str]:
        """A message for every exclusion rule of ``record_type`` testing a column that the
        table (or query) read for it does not have: such a rule would exclude nothing."""
        compiled = self._compiled.get(record_type)
        if compiled is None:
            return []
        names = list(columns)
        out = []
        for rule in compiled.exclusions:
            if rule.column is None or find_column(names, rule.column) is not None:
                continue
            out.append(
                f"the exclusion rule {rule.where} tests column {rule.column!r}, which "
                f"{table} (read for {record_type} records) does not have, so it would "
                f"exclude nothing there. Fix: add {rule.column} to the table's query (e.g. "
                "join the table that holds it), or move the rule under "
                f"[[types.<TYPE>.exclude]] of the types whose tables have it / 排除规则 "
                f"{rule.where} 所检查的列 {rule.column} 不在 {table} 中,规则不会生效;请在"
                "查询中加入该列,或把规则移到有该列的记录类型下"
            )
        return out

    def maps_version(self, record_type: str) -> bool:
        """Whether SJBBH comes from the legacy data (a column or template), not a default."""
        rules = self._types.get(record_type)
        rule = rules.fields.get("SJBBH") if rules else None
        return rule is not None and rule.constant is None

    def map_row(self, record_type: str, row: AnyMapping[str, Any]) -> MapResult:
        """Map one legacy row. Pure: no I/O; never raises for a bad row."""
        rules = self._types.get(record_type)
        if rules is None:
            problem = _problem(
                "mapping.unknown_type",
                "",
                f"映射文件中没有 {record_type} 记录的规则;请添加 [types.{record_type}.fields]",
                f"the mapping has no rules for {record_type} records; add "
                f"[types.{record_type}.fields] to {self.where}",
                record_type,
            )
            return MapResult("invalid", None, [problem])
        compiled = self._compiled[record_type]
        record = dict(compiled.start)
        problems: list[dict[str, str]] = []
        for name, getter in compiled.getters:
            try:
                value = getter(row)
            except ValueProblem as exc:
                problems.append(
                    _problem(exc.code, name, exc.message_zh, exc.message_en, record_type)
                )
                record.pop(name, None)
                continue
            if value is None:
                record.pop(name, None)
            else:
                record[name] = value
        placeholders = self._context.placeholders
        untested: list[dict[str, str]] = []
        for exclusion in compiled.exclusions:
            try:
                reason = exclusion.applies(row, record, placeholders)
            except ValueProblem as exc:
                untested.append(
                    _problem(exc.code, exclusion.where, exc.message_zh, exc.message_en, record_type)
                )
                continue
            if reason:
                return MapResult("excluded", None, [], reason)
        if untested:
            # Kept in quarantine, never sent: it may be a secret row we could not recognise.
            return MapResult("invalid", None, untested + problems)
        if not problems:
            problems = [p.as_dict() for p in validate_record(record)]
        return MapResult("invalid" if problems else "ok", record, problems)


def _check_exclusion_fields(
    record_type: str, exclusions: tuple[Exclusion, ...], rules: _TypeRules
) -> None:
    """A rule testing a field the type's records never get would exclude nothing."""
    given = {"spec", "type", "SJBBH", *rules.fields, *rules.constants}
    for rule in exclusions:
        if rule.field is not None and rule.field not in given:
            raise ConfigError(
                f"{rule.where}: tests field {rule.field!r}, which {record_type} records of "
                "this mapping never get, so the rule would exclude nothing for them. Fix: map "
                f"{rule.field} under [types.{record_type}.fields], or move the rule under "
                f"[[types.<TYPE>.exclude]] of the types that have it / 排除规则所检查的字段 "
                f"{rule.field} 在 {record_type} 记录中没有映射,规则不会生效"
            )


def _has_codes(spec: Any) -> bool:
    return isinstance(spec, AnyMapping) and "codes" in spec
