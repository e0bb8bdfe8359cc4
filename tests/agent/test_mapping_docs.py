"""docs/mapping.md stays the reference: every key, problem code and the shipped example."""

from __future__ import annotations

import re
from pathlib import Path

from agent.mapping.exclusion import RULE_KEYS
from agent.mapping.field_rules import FIELD_KEYS, MASK_KEYS, TYPES
from agent.mapping.mapping import TOP_KEYS, TYPE_KEYS

ROOT = Path(__file__).parents[2]
DOCS = (ROOT / "docs" / "mapping.md").read_text("utf-8")


def test_every_key_of_the_file_is_documented() -> None:
    for key in (*TOP_KEYS, *FIELD_KEYS, *RULE_KEYS, *MASK_KEYS, *TYPES):
        assert f"`{key}" in DOCS, f"docs/mapping.md does not explain {key!r}"
    for key in TYPE_KEYS:
        assert f"`types.<TYPE>.{key}`" in DOCS, f"docs/mapping.md does not explain {key!r}"


def test_every_problem_code_of_the_mapping_is_documented() -> None:
    source = "".join(p.read_text("utf-8") for p in (ROOT / "agent" / "mapping").glob("*.py"))
    codes = set(re.findall(r'"(mapping\.[a-z_]+)"', source))
    assert len(codes) >= 8
    for code in codes:
        assert f"`{code}`" in DOCS or f"`{code}` /" in DOCS, f"{code} is not in docs/mapping.md"


def test_the_complete_example_is_the_shipped_demo_mapping() -> None:
    demo = (ROOT / "agent" / "mapping" / "examples" / "legacy_demo.toml").read_text("utf-8")
    assert f"```toml\n{demo}```" in DOCS
