"""The clock's thresholds, as one versioned value (the rule version every verdict names).

:meth:`ClockRules.from_dict` refuses unknown keys by name with a hint;
:meth:`ClockRules.from_toml_text` parses a rules file's text. The defaults of the dataclass
and collector/clock/default_rules.toml say the same thing (a test pins that).
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from collector.clock.errors import RulesError

DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.toml")

#: Largest value of a count of days (a limit in the spec is at most 3,650 days): more is a
#: typing slip, and would carry deadline arithmetic past the calendar's last date.
MAX_DAYS = 3650
#: Largest value of a key counted in hours instead (one year).
MAX_HOURS = {"silence_grace_hours": 24 * 366}


@dataclass(frozen=True, slots=True)
class ClockRules:
    """Thresholds of the clock and of the verdict rules built on it."""

    version: str = "default-2026.1"
    warning_lead_workdays: int = 1
    yellow_at_promised_share: float = 1.0
    red_after_yellow_workdays: int = 3
    extension_cap_workdays: int = 10
    extension_cap_joint_workdays: int = 15
    correction_suspends: bool = True
    correction_notice_days: int = 5
    late_report_workdays: int = 1
    backdate_days: int = 3
    silence_grace_hours: int = 24

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "rules") -> ClockRules:
        """Build rules from a mapping; every key must be known and typed right."""
        known = {f.name: f for f in fields(cls)}
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, list(known), n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise RulesError(
                    f"{source}：未知的规则键 {key!r}",
                    f"{source}: unknown rule key {key!r}",
                    hint + "known keys: " + ", ".join(known),
                )
        if "version" not in data:
            raise RulesError(
                f"{source}：缺少 version",
                f"{source}: version is missing",
                'every rules file names its version, e.g. version = "city-2027.1"; verdicts '
                "record it",
            )
        values: dict[str, Any] = {}
        defaults = cls()
        for name in known:
            value = data.get(name, getattr(defaults, name))
            expected = type(getattr(defaults, name))
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if type(value) is not expected:
                raise RulesError(
                    f"{source}：{name} 的类型应为 {expected.__name__}，实际为 {value!r}",
                    f"{source}: {name} must be a {expected.__name__}, got {value!r}",
                    f"write e.g. {name} = {getattr(defaults, name)!r}".replace("'", '"'),
                )
            if expected is int and value < 0:
                raise RulesError(
                    f"{source}：{name} 不能为负数（{value}）",
                    f"{source}: {name} cannot be negative ({value})",
                    f"use 0 or more, e.g. {name} = {getattr(defaults, name)}",
                )
            highest = MAX_HOURS.get(name, MAX_DAYS)
            if expected is int and value > highest:
                raise RulesError(
                    f"{source}：{name} 过大（{value}），最大为 {highest}",
                    f"{source}: {name} is too large ({value}); at most {highest}",
                    f"use a plausible value, e.g. {name} = {getattr(defaults, name)}",
                )
            if expected is str and not value.strip():
                raise RulesError(
                    f"{source}：{name} 不能为空",
                    f"{source}: {name} cannot be empty",
                    f'write e.g. {name} = "{getattr(defaults, name)}"',
                )
            values[name] = value
        share = values["yellow_at_promised_share"]
        if not 0 < share <= 1:
            raise RulesError(
                f"{source}：yellow_at_promised_share 必须在 0 到 1 之间（{share}）",
                f"{source}: yellow_at_promised_share must be above 0 and at most 1 ({share})",
                "1.0 = yellow when the promised deadline passes; 0.9 = at 90% of it",
            )
        return cls(**values)

    @classmethod
    def from_toml_text(cls, text: str, source: str = "rules file") -> ClockRules:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RulesError(
                f"{source}：不是有效的 TOML：{exc}",
                f"{source}: not valid TOML: {exc}",
                "check quotes and '=' on the line named",
            ) from exc
        return cls.from_dict(data, source)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def extension_cap(self, joint: bool) -> int:
        """The cap on extension working days for an ordinary or a joint-handling item."""
        return self.extension_cap_joint_workdays if joint else self.extension_cap_workdays


def default_rules() -> ClockRules:
    """The rules of the bundled default_rules.toml."""
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    return ClockRules.from_toml_text(text, str(DEFAULT_RULES_PATH.name))
