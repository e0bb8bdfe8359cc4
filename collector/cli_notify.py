"""Commands for notifications: ``contacts add|list`` and ``notify list|run-once|check``.

Registered on :data:`collector.cli.main` at the end of collector/cli.py.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from .cli import _engine, _settings, _speaks, _store_options
from .notify.routing import ROLES
from .notify.templates import CHANNELS
from .store.timestamps import as_utc, utc_now


def _notify_option(func: Any) -> Any:
    return click.option(
        "--notify-config",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="Notifications TOML (routing, hours, providers); default: settings' notify_config.",
    )(func)


def _at(value: str | None) -> datetime:
    if not value:
        return utc_now()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not an ISO date-time such as 2026-12-01T09:00+08:00"
        ) from exc
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no UTC offset: add +08:00 for Beijing time")
    return parsed.astimezone(UTC)


@click.group()
def contacts() -> None:
    """People and group bots told about verdicts (通知联系人).

    \b
    Examples:
      esup-collector contacts add --department 11430700MB1234567X --role handling_officer \\
          --name 李经办 --phone +8613800000001
      esup-collector contacts add --role bureau_supervisor --name 监察局群 --bot bureau
      esup-collector contacts list --department 11430700MB1234567X
    """


@contacts.command("add")
@_store_options
@click.option("--department", default="", help="Department code; leave out for the bureau.")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", required=True, help="Name as written in the records (BLRXM/SPRXM).")
@click.option("--phone", help="Mobile in E.164, e.g. +8613800000001.")
@click.option("--email", help="Email address.")
@click.option("--bot", help="Name of a [bots.NAME] group bot of the notifications file.")
@_speaks
def contacts_add(
    department: str,
    role: str,
    name: str,
    phone: str | None,
    email: str | None,
    bot: str | None,
    **options: Any,
) -> None:
    """Add a contact."""
    from .notify import add_contact

    engine = _engine(_settings(**options))
    try:
        with engine.begin() as conn:
            contact_id = add_contact(
                conn,
                department=department,
                role=role,
                name=name,
                now=utc_now(),
                phone=phone,
                email=email,
                bot=bot,
            )
    finally:
        engine.dispose()
    click.echo(f"contact {contact_id} added: {name} ({role}) {department or '(bureau)'}")


@contacts.command("list")
@_store_options
@click.option("--department", default=None, help="Only this department ('' for the bureau).")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@_speaks
def contacts_list(department: str | None, as_json: bool, **options: Any) -> None:
    """List active contacts."""
    from .notify import list_contacts

    engine = _engine(_settings(**options))
    try:
        with engine.connect() as conn:
            found = list_contacts(conn, department)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps([asdict(c) for c in found], ensure_ascii=False, indent=2))
        return
    for c in found:
        addresses = " ".join(x for x in (c.phone, c.email, c.bot and f"bot:{c.bot}") if x)
        click.echo(
            f"{c.id:>5}  {c.department or '(bureau)':<20} {c.role:<18} {c.name}  {addresses}"
        )


@click.group()
def notify() -> None:
    """The notification outbox: list messages, send what is due, check the configuration.

    \b
    Examples:
      esup-collector notify list --state failed
      esup-collector notify run-once
      esup-collector notify check --notify-config /etc/esupervision/notify.toml
    """


@notify.command("list")
@_store_options
@click.option("--state", type=click.Choice(["pending", "sending", "sent", "failed", "deferred"]))
@click.option("--case", "case_id", help="Only messages about this case (SBLSH).")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON array, receipts included.")
@_speaks
def notify_list(
    state: str | None, case_id: str | None, limit: int, as_json: bool, **options: Any
) -> None:
    """Messages of the outbox, newest first, with their state and delivery receipt."""
    from .notify import count_by_state, list_outbox

    engine = _engine(_settings(**options))
    try:
        with engine.connect() as conn:
            entries = list_outbox(conn, state=state, case_id=case_id, limit=limit)
            counts = count_by_state(conn)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps([asdict(e) for e in entries], ensure_ascii=False, default=str))
        return
    click.echo("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "the outbox is empty")
    for e in entries:
        when = as_utc(e.sent_at if e.state == "sent" else e.next_attempt_at)
        receipt = f" receipt={e.receipt_status}" if e.receipt_status else ""
        why = f" ({e.deferred_reason})" if e.state == "deferred" and e.deferred_reason else ""
        click.echo(
            f"{e.id:>6} {e.state:<8}{why} {e.channel:<5} {e.address:<24} {e.kind:<7} "
            f"{e.case_id or '-'} attempts={e.attempts} at={when:%Y-%m-%dT%H:%MZ}{receipt}"
        )
        if e.last_error and e.state != "sent":
            click.echo(f"         last error: {e.last_error}")


@notify.command("run-once")
@_store_options
@_notify_option
@click.option("--at", "at", help="Act as of this moment (ISO with offset); default now.")
@_speaks
def notify_run_once(at: str | None, **options: Any) -> None:
    """Enqueue recent verdicts, send what is due, and fetch SMS delivery receipts."""
    from .engine.calendar_store import current_calendar
    from .notify import collect_receipts, dispatch_due, load_notify_config
    from .notify.outbox import enqueue_recent_verdicts
    from .notify.providers import build_providers

    now = _at(at)
    settings = _settings(**options)
    config = load_notify_config(settings.notify_config)
    providers = build_providers(config)
    engine = _engine(settings)
    try:
        calendar = current_calendar(engine)
        with engine.begin() as conn:
            queued = enqueue_recent_verdicts(conn, config, now)
        summary = dispatch_due(engine, providers, now, calendar=calendar, config=config)
        receipts = collect_receipts(engine, providers, now)
    finally:
        engine.dispose()
    click.echo(
        f"queued {queued}, sent {summary.sent}, deferred {summary.deferred}, "
        f"retrying {summary.retrying}, failed {summary.failed}, "
        f"no provider {summary.no_provider}, receipts {receipts}"
    )


@notify.command("check")
@_store_options
@_notify_option
@_speaks
def notify_check(**options: Any) -> None:
    """Load the notifications file and say which providers are configured."""
    from .notify import load_notify_config
    from .notify.providers import build_providers

    settings = _settings(**options)
    config = load_notify_config(settings.notify_config)
    providers = build_providers(config)
    click.echo(f"notifications file: {settings.notify_config or '(none: defaults)'}")
    click.echo(f"sms:   {providers.sms.name if providers.sms else 'not configured'}")
    click.echo(f"email: {'smtp' if providers.email else 'not configured'}")
    click.echo(f"bots:  {', '.join(sorted(providers.bots)) or 'none'}")
    windows = ", ".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in config.sms_policy.windows)
    click.echo(f"SMS hours: {windows} on working days; cap {config.sms_policy.daily_cap}/day")
    for kind, routes in config.routes.items():
        for route in routes:
            click.echo(f"  {kind:<8} -> {'+'.join(route.roles)} by {'+'.join(route.channels)}")
    unused = [
        c
        for c in CHANNELS
        if c not in {ch for r in config.routes.values() for x in r for ch in x.channels}
    ]
    if unused:
        click.echo(f"channels not routed: {', '.join(unused)}")
