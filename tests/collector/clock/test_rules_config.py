"""Clock rules: defaults match the shipped file; unknown keys and wrong types are named."""

from __future__ import annotations

import tomllib

import pytest

from collector.clock import ClockRules, RulesError, default_rules
from collector.clock.rules_config import DEFAULT_RULES_PATH


def test_default_rules_file_matches_the_dataclass_defaults() -> None:
    assert default_rules() == ClockRules()
    # Every field is written in the file, so an operator sees all of them.
    data = tomllib.loads(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))
    assert set(data) == set(ClockRules().as_dict())


def test_domain_defaults() -> None:
    rules = ClockRules()
    assert rules.warning_lead_workdays == 1
    assert rules.red_after_yellow_workdays == 3
    assert (rules.extension_cap(False), rules.extension_cap(True)) == (10, 15)
    assert rules.late_report_workdays == 1


def test_unknown_key_is_named_with_a_suggestion() -> None:
    with pytest.raises(RulesError) as info:
        ClockRules.from_dict({"version": "x", "warning_lead_days": 2}, "city.toml")
    assert "'warning_lead_days'" in info.value.message_en
    assert "warning_lead_workdays" in info.value.hint
    assert "city.toml" in str(info.value)


def test_version_is_required() -> None:
    with pytest.raises(RulesError, match="version"):
        ClockRules.from_dict({"warning_lead_workdays": 2})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("warning_lead_workdays", "1"),
        ("warning_lead_workdays", True),
        ("extension_cap_workdays", -1),
        ("correction_suspends", 1),
        ("yellow_at_promised_share", 1.5),
        ("yellow_at_promised_share", 0),
        ("version", " "),
        ("warning_lead_workdays", 10**9),  # would loop a billion days back from a deadline
        ("extension_cap_workdays", 3651),
        ("red_after_yellow_workdays", 2**40),  # would overflow the calendar
        ("silence_grace_hours", 24 * 366 + 1),
    ],
)
def test_wrong_values_are_refused(key: str, value: object) -> None:
    with pytest.raises(RulesError) as info:
        ClockRules.from_dict({"version": "x", key: value})
    assert key in str(info.value) and info.value.hint


def test_from_toml_text() -> None:
    rules = ClockRules.from_toml_text(
        'version = "yulin-1"\nyellow_at_promised_share = 0.9\nwarning_lead_workdays = 2\n'
    )
    assert rules.version == "yulin-1"
    assert rules.yellow_at_promised_share == 0.9
    assert rules.warning_lead_workdays == 2
    assert rules.extension_cap_workdays == 10
    with pytest.raises(RulesError, match="TOML"):
        ClockRules.from_toml_text("version = ")


def test_an_integer_share_is_accepted_as_float() -> None:
    assert ClockRules.from_dict({"version": "x", "yellow_at_promised_share": 1}) == ClockRules(
        version="x"
    )
