"""Command line of the spec (esup-spec)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .__version__ import __version__
from .date_bounds import WIDEST, BadDateBounds, DateBounds
from .errors import SpecError, UnreadableInput
from .file_check import FileStats, Finding, check_file
from .records import RECORD_TYPES
from .schema_store import code_table, code_table_names, resolved_schema

EXIT_VALID, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="esup-spec")
def main() -> None:
    """Validate records against the city data-exchange spec and write its documentation.

    \b
    Examples:
      esup-spec validate cases.jsonl
      esup-spec docs
    """


def _print_text(finding: Finding, last_where: list[str]) -> None:
    # one header per record, then its problems (a record often has several)
    if last_where[0] != finding.where:
        last_where[0] = finding.where
        label = finding.record_type or "?"
        sblsh = f" SBLSH={finding.sblsh}" if finding.sblsh else ""
        click.echo(f"{finding.where}: {label}{sblsh}")
    problem = finding.problem
    click.echo(f"  {problem.path or '(记录 record)'} [{problem.code}]")
    click.echo(f"    {problem.message_zh}")
    click.echo(f"    {problem.message_en}")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people; json prints one JSON object per line (see docs/exchange-spec.md).",
)
@click.option(
    "--earliest",
    metavar="YYYY-MM-DD",
    default=None,
    help=f"Earliest date a record may carry (default 2000-01-01; not before {WIDEST[0]}).",
)
@click.option(
    "--latest",
    metavar="YYYY-MM-DD",
    default=None,
    help=f"Latest date a record may carry (default 2100-12-31; not after {WIDEST[1]}).",
)
@click.pass_context
def validate(
    ctx: click.Context,
    files: tuple[Path, ...],
    output_format: str,
    earliest: str | None,
    latest: str | None,
) -> None:
    """Check record files (JSON Lines, or one JSON array) against spec 1.0.

    Prints every invalid record with file, line, record type, SBLSH, field and what to fix,
    in Chinese and English, and a summary. Record-set rules (times within a case) are checked
    per file, grouped by SBLSH.

    Exit status: 0 all records valid, 1 some records invalid (a line that is not JSON counts
    as an invalid record), 2 a file could not be read (missing, not UTF-8, broken JSON array).
    Dates outside --earliest .. --latest are refused (rule.date_out_of_range).
    """
    try:
        bounds = DateBounds.parse(earliest, latest)
    except BadDateBounds as exc:
        raise click.BadParameter(
            f"{exc} / 日期范围无效:须为 YYYY-MM-DD,且在 {WIDEST[0]} 至 {WIDEST[1]} 之内",
            param_hint="--earliest/--latest",
        ) from exc
    as_json = output_format == "json"
    records = invalid = unreadable = 0
    last_where = [""]
    for path in files:
        stats = FileStats()
        try:
            bar = _progress(path)
            with bar as progress:
                for finding in check_file(path, stats, progress, bounds):
                    bar.clear_line()
                    if as_json:
                        click.echo(json.dumps(finding.as_dict(), ensure_ascii=False))
                    else:
                        _print_text(finding, last_where)
        except UnreadableInput as exc:
            unreadable += 1
            if as_json:
                body = {
                    "kind": "unreadable",
                    "file": str(path),
                    "message_zh": exc.message_zh,
                    "message_en": exc.message_en,
                }
                click.echo(json.dumps(body, ensure_ascii=False))
            else:
                click.echo(f"无法读取 {exc.message_zh}", err=True)
                click.echo(f"cannot read {exc.message_en}", err=True)
        records += stats.records
        invalid += stats.invalid
    code = EXIT_UNREADABLE if unreadable else EXIT_INVALID if invalid else EXIT_VALID
    if as_json:
        summary = {
            "kind": "summary",
            "files": len(files),
            "unreadable_files": unreadable,
            "records": records,
            "invalid": invalid,
            "exit": code,
        }
        click.echo(json.dumps(summary))
    else:
        unread_zh = f",{unreadable} 个文件无法读取" if unreadable else ""
        unread_en = f", {unreadable} unreadable" if unreadable else ""
        click.echo(
            f"共 {records} 条记录,{invalid} 条无效({len(files)} 个文件{unread_zh})/ "
            f"{records} records, {invalid} invalid ({len(files)} files{unread_en})"
        )
    ctx.exit(code)


class _progress:
    """A progress bar on stderr when it is a terminal; nothing otherwise (pipes, CI, tests)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._bar: Any = None

    def __enter__(self) -> Callable[[int], None] | None:
        if not sys.stderr.isatty():
            return None
        try:
            size = self._path.stat().st_size
        except OSError:
            return None  # check_file reports the unreadable file
        self._bar = click.progressbar(length=size, label=self._path.name, file=sys.stderr)
        bar = self._bar.__enter__()
        return lambda n: bar.update(n)

    def clear_line(self) -> None:
        """Wipe the bar before printing a finding, so lines do not run into each other."""
        if self._bar is not None:
            sys.stderr.write("\r\033[K")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)


@main.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the Markdown here (e.g. docs/exchange-spec.md) instead of standard output.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Write nothing; exit 1 when OUTPUT differs from what would be written (for CI).",
)
def docs(output: Path | None, check: bool) -> None:
    """Write the human-readable spec (fields, code tables, rules) from the schemas."""
    from .spec_docs import render_markdown

    text = render_markdown()
    if output is None:
        if check:
            raise click.UsageError("--check needs --output FILE to compare with")
        click.echo(text, nl=False)
        return
    if check:
        current = output.read_text(encoding="utf-8") if output.exists() else ""
        if current != text:
            click.echo(
                f"{output} 已过期,请运行 esup-spec docs --output {output} 重新生成 / "
                f"{output} is stale: regenerate it with esup-spec docs --output {output}",
                err=True,
            )
            sys.exit(EXIT_INVALID)
        click.echo(f"{output} is up to date")
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}")


@main.command()
@click.argument("name")
def show(name: str) -> None:
    """Print the self-contained JSON Schema of a record type, or a code table.

    NAME is a record type (SL, BJ, SX, ...) or a code table (SLZTDM, BJJGDM, ...). The schema
    has the code tables inlined as enums, so any JSON Schema 2020-12 tool can use it.
    """
    try:
        if name in RECORD_TYPES:
            value: Any = resolved_schema(name)
        elif name in code_table_names():
            table = code_table(name)
            value = {
                "name": table.name,
                "title": table.title,
                "description": table.description,
                "codes": [{"code": c.code, "zh": c.zh, "en": c.en} for c in table.codes],
            }
        else:
            raise click.UsageError(
                f"{name!r} is neither a record type ({', '.join(RECORD_TYPES)}) nor a code "
                f"table ({', '.join(code_table_names())})"
            )
    except SpecError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))
