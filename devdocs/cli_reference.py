"""docs/cli-reference.md: every command of esup-agent, esup-collector and esup-spec, generated
from their click groups so the reference cannot drift from the code.

Run from the repository root::

    .venv/bin/python -m devdocs.cli_reference --output docs/cli-reference.md          # write
    .venv/bin/python -m devdocs.cli_reference --output docs/cli-reference.md --check  # CI

tests/devdocs/test_cli_reference.py fails when the committed file is stale.

The page is rendered from click's command and parameter objects, never through click's help
formatter, so it does not depend on the terminal's width. Help text paragraphs are joined as
click joins them; ``\\b`` blocks (the "Examples:" of most commands) are kept line by line.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

OUTPUT = "docs/cli-reference.md"
REGENERATE = f".venv/bin/python -m devdocs.cli_reference --output {OUTPUT}"


def programs() -> dict[str, click.Command]:
    """The console scripts of pyproject.toml and their click groups, by name."""
    from agent.cli import main as agent_main
    from collector.cli import main as collector_main
    from exchange_spec.cli import main as spec_main

    return {"esup-agent": agent_main, "esup-collector": collector_main, "esup-spec": spec_main}


@dataclass(frozen=True)
class Entry:
    """One command (or group) with the context it is documented in."""

    path: tuple[str, ...]  # program name, then subcommand names
    command: click.Command
    ctx: click.Context

    @property
    def title(self) -> str:
        return " ".join(self.path)

    @property
    def anchor(self) -> str:
        """The id GitHub gives the entry's heading."""
        return re.sub(r"[^a-z0-9 _-]", "", self.title.lower()).replace(" ", "-")


def walk(prog: str, command: click.Command) -> Iterator[Entry]:
    """The program's commands, depth first, subcommands sorted by name; hidden ones left out."""
    root = click.Context(command, info_name=prog, **(command.context_settings or {}))
    yield from _walk((prog,), command, root)


def _walk(path: tuple[str, ...], command: click.Command, ctx: click.Context) -> Iterator[Entry]:
    yield Entry(path, command, ctx)
    if not isinstance(command, click.Group):
        return
    for name in sorted(command.list_commands(ctx)):
        sub = command.get_command(ctx, name)
        if sub is None or sub.hidden:
            continue
        sub_ctx = click.Context(sub, info_name=name, parent=ctx, **(sub.context_settings or {}))
        yield from _walk((*path, name), sub, sub_ctx)


# -- text --------------------------------------------------------------------------------------
_CODE_SPAN = re.compile(r"(`[^`]+`)")
_PUNCTUATION = re.compile(r"([\\*<])")
_LONE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_BLOCK_START = re.compile(r"^(?=[#>+=-]|\d+[.)](?: |$))")


def _escape(text: str) -> str:
    """Help text for Markdown: `code` as the help writes it, and no emphasis or HTML by
    accident elsewhere (intraword underscores, as in engine_sweep_workers, never emphasise)."""
    parts = _CODE_SPAN.split(text)
    for index in range(0, len(parts), 2):  # the odd parts are code spans
        plain = _PUNCTUATION.sub(r"\\\1", parts[index])
        parts[index] = _LONE_UNDERSCORE.sub(r"\\_", plain)
    return "".join(parts)


def _paragraph(text: str) -> str:
    """A paragraph that cannot turn into a heading, quote or list by its first character."""
    return _BLOCK_START.sub("\\\\", _escape(text))


def _cell(text: str) -> str:
    """Text for a table cell: one line, pipes escaped."""
    return _escape(" ".join(text.split())).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{text}`".replace("|", "\\|")


def _help_blocks(text: str) -> list[str]:
    """Markdown blocks of a help text, read as click reads it: paragraphs are rewrapped (so
    joined here), a paragraph that starts with a ``\\b`` line is kept as written."""
    blocks: list[str] = []
    for paragraph in re.split(r"\n\s*\n", inspect.cleandoc(text).partition("\f")[0]):
        lines = paragraph.splitlines()
        if not lines:
            continue
        if lines[0].strip() != "\b":
            blocks.append(_paragraph(" ".join(" ".join(lines).split())))
            continue
        lines = lines[1:]
        if lines and lines[0].rstrip().endswith(":") and not lines[0].startswith(" "):
            blocks.append(_paragraph(lines[0].strip()))  # "Examples:" as a line of its own
            lines = lines[1:]
        if not lines:
            continue
        body = textwrap.dedent("\n".join(lines)).strip("\n")
        rows = body.splitlines()
        shell = all(  # command lines, each maybe continued with a backslash
            row.startswith("esup-") or (i > 0 and rows[i - 1].endswith("\\"))
            for i, row in enumerate(rows)
        )
        blocks.append(f"```{'sh' if shell else 'text'}\n{body}\n```")
    return blocks


# -- parameters --------------------------------------------------------------------------------
def _type(param: click.Parameter, info: dict[str, Any]) -> str:
    if isinstance(param, click.Option) and param.count:
        return "count (repeat it)"
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    kind = info["type"]
    name = kind.get("param_type", "")
    if name == "Choice":
        text = " \\| ".join(_code(str(choice)) for choice in kind["choices"])
    elif name in ("IntRange", "FloatRange"):
        text = ("integer" if name == "IntRange" else "number") + _range(kind)
    elif name == "Path":
        what = "file" if not kind["dir_okay"] else "directory" if not kind["file_okay"] else "path"
        text = f"existing {what}" if kind["exists"] else what
    elif name == "DateTime":
        text = "date/time (" + ", ".join(_code(f) for f in kind["formats"]) + ")"
    else:
        text = {
            "Int": "integer",
            "Float": "number",
            "Bool": "boolean",
            "String": "text",
            "File": "file",
            "UUID": "UUID",
        }.get(name, _cell(param.type.name))
    if param.nargs == -1:
        text += ", one or more" if param.required else ", any number"
    elif param.nargs > 1:
        text += f", {param.nargs} values"
    if param.multiple:
        text += ", repeatable"
    return text


def _range(kind: dict[str, Any]) -> str:
    low, high = kind.get("min"), kind.get("max")
    if low is not None and high is not None:
        both_open = kind["min_open"] or kind["max_open"]
        return f" from {low} to {high}" + (" (bounds excluded)" if both_open else "")
    if low is not None:
        return f" {'>' if kind['min_open'] else '≥'} {low}"
    if high is not None:
        return f" {'<' if kind['max_open'] else '≤'} {high}"
    return ""


def _default(param: click.Parameter, info: dict[str, Any]) -> str:
    if param.required:
        return "required"
    shown = getattr(param, "show_default", None)
    if isinstance(shown, str):
        return _cell(shown)
    value = param.default
    if callable(value):
        return "computed"  # never called here: its value may depend on the machine
    value = info["default"]
    if isinstance(param, click.Option) and param.is_flag:
        return "on" if value is True else ""
    if value is None or value == ():
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(_code(str(v)) for v in value)
    return _code(str(value)) if str(value) else '`""`'


def _options_table(entry: Entry) -> list[str]:
    help_option = entry.command.get_help_option(entry.ctx)
    rows = []
    for param in entry.command.get_params(entry.ctx):
        if not isinstance(param, click.Option) or param is help_option or param.hidden:
            continue
        info = param.to_info_dict()
        names = ", ".join(_code(o) for o in param.opts)
        if param.secondary_opts:
            names += " / " + ", ".join(_code(o) for o in param.secondary_opts)
        text = _cell(param.help or "")
        for envvar in [param.envvar] if isinstance(param.envvar, str) else param.envvar or []:
            if envvar not in (param.help or ""):
                text += f" (env {_code(envvar)})"
        rows.append(f"| {names} | {_type(param, info)} | {_default(param, info)} | {text} |")
    if not rows:
        return []
    return ["| option | type | default | description |", "|---|---|---|---|", *rows]


def _arguments_table(entry: Entry) -> list[str]:
    rows = []
    for param in entry.command.get_params(entry.ctx):
        if not isinstance(param, click.Argument):
            continue
        info = param.to_info_dict()
        name = _code(param.make_metavar(entry.ctx))
        rows.append(f"| {name} | {_type(param, info)} | {_default(param, info)} |")
    if not rows:
        return []
    return ["| argument | type | default |", "|---|---|---|", *rows]


# -- page --------------------------------------------------------------------------------------
def _section(entry: Entry, children: list[Entry]) -> list[str]:
    command, ctx = entry.command, entry.ctx
    usage = " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])
    level = "##" if len(entry.path) == 1 else "###"  # a program, or one of its commands
    out = [f"{level} `{entry.title}`", "", "```text", f"Usage: {usage}", "```", ""]
    if command.deprecated:
        out += ["**Deprecated.**", ""]
    for block in _help_blocks(command.help or ""):
        out += [block, ""]
    for table in (_arguments_table(entry), _options_table(entry)):
        if table:
            out += [*table, ""]
    if children:
        out += ["| command | what it does |", "|---|---|"]
        for child in children:
            link = f"[{_code(child.path[-1])}](#{child.anchor})"
            out.append(f"| {link} | {_cell(child.command.get_short_help_str(limit=10_000))} |")
        out.append("")
    for block in _help_blocks(command.epilog or ""):
        out += [block, ""]
    return out


def render_markdown(mains: dict[str, click.Command] | None = None) -> str:
    """The whole reference page (deterministic: same code, same bytes)."""
    mains = programs() if mains is None else mains
    out = [
        "# Command-line reference",
        "",
        "<!-- Generated from the code by devdocs/cli_reference.py: do not edit by hand. -->",
        "",
        "Every command of the three programs, with its options, generated from the code: change "
        "a command's help in the code, then regenerate this page from the repository root with "
        f"`{REGENERATE}` (tests/devdocs/test_cli_reference.py fails while it is stale). "
        "Every command also takes `-h` / `--help`; `esup-collector` commands that open the "
        "store also read the `--config` file and `ESUP_COLLECTOR_*` settings.",
        "",
    ]
    sections: list[str] = []
    for prog in sorted(mains):
        entries = list(walk(prog, mains[prog]))
        links = " · ".join(f"[{_code(' '.join(e.path[1:]))}](#{e.anchor})" for e in entries[1:])
        out.append(f"- [{_code(prog)}](#{entries[0].anchor}): {links}")
        for entry in entries:
            children = [e for e in entries if e.path[:-1] == entry.path]
            sections += _section(entry, children)
    out.append("")
    return "\n".join(out + sections).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devdocs.cli_reference",
        description="Write the command-line reference (Markdown) generated from the code.",
    )
    parser.add_argument(
        "--output", "-o", type=Path, help=f"write it here (e.g. {OUTPUT}), not to stdout"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when OUTPUT differs from what would be written",
    )
    args = parser.parse_args(argv)
    text = render_markdown()
    if args.output is None:
        if args.check:
            parser.error("--check needs --output FILE to compare with")
        sys.stdout.buffer.write(text.encode("utf-8"))
        return 0
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            command = f".venv/bin/python -m devdocs.cli_reference --output {args.output}"
            print(f"{args.output} is stale: regenerate it with {command}", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
