"""docs/exchange-spec.md is generated: it must match the schemas and code tables."""

from __future__ import annotations

from pathlib import Path

from exchange_spec import RECORD_TYPES
from exchange_spec.rules import RULES
from exchange_spec.schema_store import code_table_names, resolved_schema
from exchange_spec.spec_docs import render_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "exchange-spec.md"


def test_committed_spec_document_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(), (
        "docs/exchange-spec.md is stale: run "
        "`.venv/bin/esup-spec docs --output docs/exchange-spec.md` and commit it"
    )


def test_document_names_every_type_field_code_table_and_rule() -> None:
    text = render_markdown()
    for rtype in RECORD_TYPES:
        assert f"### {rtype} " in text
        for field, prop in resolved_schema(rtype)["properties"].items():
            assert f"| `{field}` | {prop['title']} |" in text
    for name in code_table_names():
        assert f"### {name}\n" in text
    for rule in RULES:
        assert f"`{rule.code}`" in text
