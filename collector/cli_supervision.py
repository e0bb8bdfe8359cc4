"""`esup-collector supervision ...`: matters, replies (回告), closing, appeals, escalation,
and the notice documents (督办通知书 / 整改建议书)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from .cli import _engine, _settings, _speaks, _store_options
from .clock import SHANGHAI
from .store.timestamps import utc_now

_STATE_CHOICE = click.Choice(["open", "escalated", "replied", "closed"])


def _at(value: str | None) -> datetime:
    """--at as an aware time; a time without offset is Beijing time (UTC+8)."""
    if value is None:
        return utc_now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not an ISO time; use e.g. 2026-10-14T09:00+08:00 / 时间格式错误",
            param_hint="--at",
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=SHANGHAI)


def _at_option(func: Any) -> Any:
    return click.option(
        "--at",
        "at_text",
        help="When it happened (ISO time, default now; without offset it is Beijing time).",
    )(func)


def _supervision() -> None:
    """Supervision matters: card -> notice -> reply (回告) -> closed or escalated.

    \b
    Examples:
      esup-collector supervision list --state open
      esup-collector supervision notice 督〔2026〕第0001号 --pdf notice.pdf
      esup-collector supervision reply 1 --text "已于10月9日办结" --by 张科长
      esup-collector supervision close 1 --by 李监察员 --note "回告属实"
      esup-collector supervision escalate-due
    """


# Typed explicitly: collector.cli imports this module at its end (a cycle mypy cannot infer).
supervision: click.Group = click.group("supervision")(_supervision)


@supervision.command("list")
@_store_options
@click.option("--state", type=_STATE_CHOICE, help="Only matters in this state.")
@click.option("--department", help="Only this department's matters (code).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_speaks
def list_(state: str | None, department: str | None, as_json: bool, **options: Any) -> None:
    """List matters: number, department, case, card, state, level and reply deadline.

    \b
    Example:
      esup-collector supervision list --state escalated --json
    """
    from .supervision import list_matters

    engine = _engine(_settings(**options))
    with engine.connect() as conn:
        matters = list_matters(conn, state=state, department=department)
    engine.dispose()
    if as_json:
        click.echo(json.dumps([m.as_dict() for m in matters], ensure_ascii=False, indent=2))
        return
    if not matters:
        click.echo("no supervision matters" + (f" in state {state}" if state else ""))
        return
    for m in matters:
        click.echo(
            f"{m.id:>5}  {m.number}  {m.title}  {m.department}  {m.case_id}  {m.card}  "
            f"{m.state}  {m.level}  reply by {m.due_reply_by.isoformat()}"
            + (" (provisional)" if m.due_provisional else "")
            + ("  appeal pending" if m.appeal_pending else "")
        )


@supervision.command("show")
@_store_options
@click.argument("matter")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (matter and history).")
@_speaks
def show(matter: str, as_json: bool, **options: Any) -> None:
    """Show one matter (by number or id) and its history.

    \b
    Example:
      esup-collector supervision show 督〔2026〕第0001号
    """
    from .supervision import get_matter, matter_events

    engine = _engine(_settings(**options))
    with engine.connect() as conn:
        found = get_matter(conn, matter)
        events = matter_events(conn, found.id)
    engine.dispose()
    if as_json:
        payload = {**found.as_dict(), "history": [e.as_dict() for e in events]}
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    click.echo(f"{found.number}  {found.title}")
    click.echo(f"  department:    {found.department}")
    click.echo(f"  case:          {found.case_id}")
    click.echo(f"  card:          {found.card} ({found.rule})")
    click.echo(f"  state:         {found.state}, level {found.level}")
    click.echo(f"  opened:        {found.opened_at.astimezone(SHANGHAI).isoformat()}")
    provisional = " (provisional)" if found.due_provisional else ""
    click.echo(f"  reply by:      {found.due_reply_by.isoformat()}{provisional}")
    if found.supersedes_id is not None:
        click.echo(f"  supersedes:    matter {found.supersedes_id}")
    if found.superseded_by_id is not None:
        click.echo(f"  superseded by: matter {found.superseded_by_id}")
    click.echo("  history:")
    for e in events:
        note = f"  {e.note}" if e.note else ""
        click.echo(f"    {e.at.astimezone(SHANGHAI).isoformat()}  {e.kind:<16} {e.actor}{note}")


def _change(action: str, matter: str, options: dict[str, Any], **kwargs: Any) -> None:
    from .supervision import Matter, close_matter, record_appeal, record_reply

    at = _at(options.pop("at_text", None))
    functions: dict[str, Callable[..., Matter]] = {
        "reply": record_reply,
        "close": close_matter,
        "appeal": record_appeal,
    }
    engine = _engine(_settings(**options))
    with engine.begin() as conn:
        changed = functions[action](conn, matter, at=at, **kwargs)
    engine.dispose()
    click.echo(f"{changed.number}: {changed.state}, level {changed.level}")


@supervision.command("reply")
@_store_options
@click.argument("matter")
@click.option("--text", required=True, help="The department's written reply (回告).")
@click.option("--by", "by", required=True, help="Who replied (name and post).")
@_at_option
@_speaks
def reply(matter: str, text: str, by: str, **options: Any) -> None:
    """Record the department's written reply (回告); escalation stops.

    \b
    Example:
      esup-collector supervision reply 督〔2026〕第0001号 --text "已办结，原因..." --by 张科长
    """
    _change("reply", matter, options, text=text, by=by)


@supervision.command("close")
@_store_options
@click.argument("matter")
@click.option("--by", "by", required=True, help="The bureau's officer who closes it.")
@click.option("--note", default="", help="Why (kept in the history).")
@_at_option
@_speaks
def close(matter: str, by: str, note: str, **options: Any) -> None:
    """Close a matter (a red matter also closes the yellow one it superseded).

    \b
    Example:
      esup-collector supervision close 1 --by 李监察员 --note "回告属实，已整改"
    """
    _change("close", matter, options, by=by, note=note)


@supervision.command("appeal")
@_store_options
@click.argument("matter")
@click.option("--text", required=True, help="The department's grounds (申辩理由).")
@click.option("--by", "by", required=True, help="Who appeals.")
@_at_option
@_speaks
def appeal(matter: str, text: str, by: str, **options: Any) -> None:
    """Record an appeal (申辩); escalation pauses until the bureau closes the matter.

    \b
    Example:
      esup-collector supervision appeal 1 --text "特别程序已报批，数据迟报" --by 张科长
    """
    _change("appeal", matter, options, text=text, by=by)


@supervision.command("escalate-due")
@_store_options
@_at_option
@click.option("--json", "as_json", is_flag=True, help="Print the steps taken as JSON.")
@_speaks
def escalate_due_(as_json: bool, **options: Any) -> None:
    """Escalate matters not replied to by their deadline (officer -> leader -> bureau).

    Counted in working days on the store's calendar; safe to run often (the sweep calls it).

    \b
    Examples:
      esup-collector supervision escalate-due
      esup-collector supervision escalate-due --at 2026-10-14T09:00+08:00
    """
    from .supervision import escalate_due
    from .supervision.calendars import calendar_for

    at = _at(options.pop("at_text", None))
    engine = _engine(_settings(**options))
    with engine.begin() as conn:
        steps = escalate_due(conn, calendar=calendar_for(conn), at=at)
    engine.dispose()
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in steps], ensure_ascii=False, indent=2))
        return
    for s in steps:
        click.echo(
            f"{s.number}: {s.from_level} -> {s.to_level} (deadline {s.due_was.isoformat()} "
            f"passed; new deadline {s.due_reply_by.isoformat()})"
        )
    click.echo(f"{len(steps)} escalation(s)")


@supervision.command("open-missing")
@_store_options
@_speaks
def open_missing(**options: Any) -> None:
    """Open matters for stored yellow and red cards that have none (safe to run again).

    Cards normally open their matter when the engine stores them; this catches up after a
    failure or a sweep run without the listener.

    \b
    Example:
      esup-collector supervision open-missing
    """
    from .supervision.catch_up import open_missing_matters
    from .supervision.matters import MatterPolicy

    settings = _settings(**options)
    engine = _engine(settings)
    with engine.begin() as conn:
        opened = open_missing_matters(
            conn, policy=MatterPolicy(reply_workdays=settings.supervision_reply_workdays)
        )
    engine.dispose()
    for m in opened:
        click.echo(f"{m.number}  {m.title}  {m.department}  {m.case_id}  reply by {m.due_reply_by}")
    click.echo(f"{len(opened)} matter(s) opened")


@supervision.command("notice")
@_store_options
@click.argument("matter")
@click.option(
    "--pdf",
    "pdf_out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the PDF (a copy; the original is kept under data_dir/documents).",
)
@click.option(
    "--html", "html_out", type=click.Path(dir_okay=False, path_type=Path), help="Also the HTML."
)
@click.option("--by", "by", default="operator", show_default=True, help="Who generated it.")
@_speaks
def notice(matter: str, pdf_out: Path, html_out: Path | None, by: str, **options: Any) -> None:
    """Generate the matter's notice (督办通知书 or 整改建议书) as PDF and record its SHA-256.

    \b
    Example:
      esup-collector supervision notice 督〔2026〕第0001号 --pdf 督办通知书.pdf
    """
    from .supervision.documents import generate_notice

    settings = _settings(**options)
    engine = _engine(settings)
    with engine.begin() as conn:
        stored = generate_notice(
            conn,
            matter,
            bureau_name=settings.bureau_name,
            documents_dir=settings.documents_dir,
            by=by,
            at=utc_now(),
        )
    engine.dispose()
    pdf_out.write_bytes(stored.pdf)
    if html_out is not None:
        html_out.write_text(stored.html, encoding="utf-8")
    click.echo(f"{stored.matter.number} {stored.matter.title}: {pdf_out}")
    click.echo(f"sha256 {stored.sha256} (kept at {stored.path})")
