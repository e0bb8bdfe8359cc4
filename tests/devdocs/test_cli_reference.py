"""docs/cli-reference.md is generated: it must match the three command lines."""

from __future__ import annotations

import difflib
from pathlib import Path

import click
import pytest

from devdocs.cli_reference import REGENERATE, main, programs, render_markdown, walk

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli-reference.md"


def test_committed_cli_reference_is_current() -> None:
    committed = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    generated = render_markdown()
    if committed != generated:
        diff = difflib.unified_diff(
            committed.splitlines(),
            generated.splitlines(),
            "docs/cli-reference.md (committed)",
            "generated from the code",
            lineterm="",
        )
        shown = "\n".join(list(diff)[:60])
        pytest.fail(
            f"docs/cli-reference.md is stale: run `{REGENERATE}` and commit it\n{shown}",
            pytrace=False,
        )


def test_reference_names_every_command_and_visible_option() -> None:
    text = render_markdown()
    for prog, group in programs().items():
        for entry in walk(prog, group):
            assert f"# `{entry.title}`\n" in text
            assert f"Usage: {entry.title}" in text
            for param in entry.command.params:
                if isinstance(param, click.Option) and not param.hidden:
                    assert f"| `{param.opts[0]}`" in text, f"{entry.title} {param.opts[0]}"


def test_examples_blocks_are_kept_line_by_line() -> None:
    text = render_markdown()
    assert "Examples:\n\n```sh\nesup-collector rules run\n" in text
    assert "esup-agent init agent.toml && esup-agent check -c agent.toml\n" in text


def test_output_does_not_depend_on_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    wide = render_markdown()
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setattr("shutil.get_terminal_size", lambda *a, **k: (40, 20))
    assert render_markdown() == wide


def test_rendering_of_types_defaults_and_help() -> None:
    @click.group()
    def tool() -> None:
        """A tool.

        Second paragraph with <TOKEN>, a *star* and `_code_`,
        joined like click joins it.

        \b
        Examples:
          tool go --mode b
        """

    @tool.command()
    @click.argument("files", nargs=-1, required=True, type=click.Path())
    @click.option("--mode", type=click.Choice(["a", "b"]), default="a", show_default=True)
    @click.option("--workers", type=click.IntRange(min=0), help="How | many.")
    @click.option("--name", default="", help="A name.")
    @click.option("--json", "as_json", is_flag=True, help="JSON.")
    @click.option("--conf", envvar="TOOL_CONF", help="Config.")
    def go(**_: object) -> None:
        """Go somewhere."""

    text = render_markdown({"tool": tool})
    assert "with \\<TOKEN>, a \\*star\\* and `_code_`, joined like click joins it." in text
    assert "Examples:\n\n```text\ntool go --mode b\n```" in text
    assert "| [`go`](#tool-go) | Go somewhere. |" in text
    assert "Usage: tool go [OPTIONS] FILES..." in text
    assert "| `FILES...` | path, one or more | required |" in text
    assert "| `--mode` | `a` \\| `b` | `a` |  |" in text
    assert "| `--workers` | integer ≥ 0 |  | How \\| many. |" in text
    assert '| `--name` | text | `""` | A name. |' in text
    assert "| `--json` | flag |  | JSON. |" in text
    assert "| `--conf` | text |  | Config. (env `TOOL_CONF`) |" in text


def test_check_mode_names_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "cli-reference.md"
    target.write_text("old\n", encoding="utf-8")
    assert main(["--output", str(target), "--check"]) == 1
    assert f"devdocs.cli_reference --output {target}" in capsys.readouterr().err
    assert main(["--output", str(target)]) == 0
    assert main(["--output", str(target), "--check"]) == 0
    assert target.read_text(encoding="utf-8") == render_markdown()
