"""The rules file: the clock's thresholds (collector.clock.ClockRules) plus an ``[engine]``
table for what only the verdict rules use.

    version = "city-2027.1"
    warning_lead_workdays = 1      # ... every ClockRules key (default_rules.toml)
    [engine]
    silence_after_hours = 24       # no heartbeat and no record for this long = data silence
    late_report_workdays = 1       # optional override of the clock key of the same name
    [engine.step_limits]           # optional: SPHJDM -> working days allowed for that step
    "1" = 2

The version every verdict names is ``<version>@<first 8 hex of sha256(file text)>``, so two
files that differ but forgot to change ``version`` still give different versions.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from collector.clock import ClockRules, RulesError
from collector.clock.rules_config import DEFAULT_RULES_PATH, MAX_DAYS

_ENGINE_KEYS = ("silence_after_hours", "step_limits")


@dataclass(frozen=True)
class EngineRules:
    """Everything a verdict depends on besides the records, the calendar and the time."""

    clock: ClockRules
    content_hash: str
    source: str
    text: str
    silence_after_hours: int = 24
    step_limits: dict[str, int] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return self.clock.version


def parse_rules(text: str, source: str) -> EngineRules:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(
            f"{source}：不是有效的 TOML：{exc}",
            f"{source}: not valid TOML: {exc}",
            "check quotes and '=' on the line named",
        ) from exc
    engine = data.pop("engine", {})
    if not isinstance(engine, dict):
        raise RulesError(
            f"{source}：[engine] 必须是表", f"{source}: [engine] must be a table", "write [engine]"
        )
    for key in engine:
        if key not in _ENGINE_KEYS:
            raise RulesError(
                f"{source}：[engine] 中未知的键 {key!r}",
                f"{source}: unknown key {key!r} in [engine]",
                "known keys: " + ", ".join(_ENGINE_KEYS),
            )
    clock = ClockRules.from_dict(data, source)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    clock = replace(clock, version=f"{clock.version}@{digest[:8]}")
    silence = engine.get("silence_after_hours", 24)
    steps_raw: Any = engine.get("step_limits", {})
    if not isinstance(silence, int) or isinstance(silence, bool) or not 1 <= silence <= 24 * 366:
        raise RulesError(
            f"{source}：silence_after_hours 必须是 1 到 8784 之间的整数（{silence!r}）",
            f"{source}: silence_after_hours must be an integer from 1 to 8784 ({silence!r})",
            "write e.g. silence_after_hours = 24",
        )
    if not isinstance(steps_raw, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_DAYS
        for v in steps_raw.values()
    ):
        raise RulesError(
            f"{source}：[engine.step_limits] 的值必须是 1 到 {MAX_DAYS} 之间的整数（工作日）",
            f"{source}: [engine.step_limits] values must be integers from 1 to {MAX_DAYS} "
            "(working days)",
            'write e.g. "1" = 2 (step code SPHJDM 1 gets 2 working days)',
        )
    return EngineRules(
        clock=clock,
        content_hash=digest,
        source=source,
        text=text,
        silence_after_hours=silence,
        step_limits={str(k): int(v) for k, v in steps_raw.items()},
    )


def load_rules(path: Path | None) -> EngineRules:
    """The rules of ``path``, or of the bundled default_rules.toml when None."""
    target = path or DEFAULT_RULES_PATH
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(
            f"无法读取规则文件 {target}：{exc}",
            f"cannot read the rules file {target}: {exc}",
            "check the path given with --rules or the engine_rules_file setting",
        ) from exc
    return parse_rules(text, str(target if path else target.name))
