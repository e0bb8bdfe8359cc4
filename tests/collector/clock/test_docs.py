"""docs/clock.md stays true: every fact code the clock emits is explained, the notice example
is the shipped 2026 file, every rules key is in the table."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from collector.clock import FACT_CODES, ClockRules, Fact, bundled_notice_text

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "clock.md").read_text(encoding="utf-8")


def test_every_fact_code_is_documented() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", DOC, re.MULTILINE))
    assert FACT_CODES <= documented, FACT_CODES - documented
    # The clock cannot emit a code outside the list: Fact refuses it.
    with pytest.raises(ValueError, match="FACT_CODES"):
        Fact("made_up", "x")


def test_the_notice_example_is_the_shipped_2026_file() -> None:
    block = DOC.split("```toml\n", 1)[1].split("```", 1)[0]
    shipped = bundled_notice_text(2026)
    assert shipped is not None
    assert tomllib.loads(block) == tomllib.loads(shipped)


def test_every_rules_key_is_in_the_table() -> None:
    for key, value in ClockRules().as_dict().items():
        assert f"| `{key}` |" in DOC, key
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        assert f"| `{key}` | {shown} |" in DOC or f"| `{key}` | `{shown}` |" in DOC, key
