"""Command line of the collector (esup-collector).

Only this module and the API's exception handler speak to people: library errors
(:class:`collector.errors.CollectorError`) become click errors here.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from . import __version__
from .errors import CollectorError, EnrolmentError, IngestRefused, OperatorError
from .settings import CollectorSettings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="esup-collector")
def main() -> None:
    """Run the supervision bureau's esupervision collector.

    \b
    Examples:
      esup-collector serve --store sqlite:///var/collector.db
      esup-collector agents token --department 11430700MB1234567X
    """


def _store_options(func: F) -> F:
    """--store, --data-dir and --config, shared by every command that opens the store."""
    func = click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="TOML settings file ([collector] table); CLI options and ESUP_COLLECTOR_* win.",
    )(func)
    func = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Directory for the SQLite store and the collector key (default ./collector-data).",
    )(func)
    func = click.option(
        "--store",
        "store_url",
        help="SQLAlchemy URL: sqlite:///PATH or postgresql+psycopg://USER@HOST/DB.",
    )(func)
    return func


def _speaks(func: F) -> F:
    """Turn collector errors into one readable message and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (IngestRefused, EnrolmentError, OperatorError) as exc:
            hint = f"\n  hint: {exc.hint}" if exc.hint else ""
            raise click.ClickException(f"{exc.message_en}\n  {exc.message_zh}{hint}") from exc
        except CollectorError as exc:
            raise click.ClickException(str(exc)) from exc
        except SQLAlchemyError as exc:
            raise click.ClickException(f"the store failed: {exc}") from exc

    return wrapper  # type: ignore[return-value]


def _settings(**options: Any) -> CollectorSettings:
    config_file = options.pop("config_file", None)
    return load_settings(options, config_file=config_file)


def _engine(settings: CollectorSettings, *, upgrade: bool = False) -> Any:
    from .private_files import private_dir
    from .store.engine import make_engine
    from .store.migrate import check_current
    from .store.migrate import upgrade as run_upgrade

    private_dir(settings.data_dir)
    engine = make_engine(settings.resolved_store_url)
    if upgrade:
        run_upgrade(engine)
    else:
        check_current(engine)
    return engine


# -- serve ---------------------------------------------------------------------------------
@main.command()
@_store_options
@click.option("--host", help="Address to listen on (default 127.0.0.1; put TLS in front).")
@click.option("--port", type=int, help="TCP port (default 8470).")
@click.option("--log-level", default="info", show_default=True, help="uvicorn log level.")
@_speaks
def serve(log_level: str, **options: Any) -> None:
    """Migrate the store to the newest version, then serve the agent API.

    \b
    Examples:
      esup-collector serve
      esup-collector serve --store postgresql+psycopg://esup@db/esup --host 0.0.0.0
    """
    import uvicorn

    from .app import create_app

    settings = _settings(**options)
    _engine(settings, upgrade=True).dispose()
    app = create_app(settings)
    click.echo(
        f"collector listening on http://{settings.host}:{settings.port} "
        f"(store {settings.resolved_store_url})",
        err=True,
    )
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=log_level)


# -- db --------------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Manage the store's schema (Alembic migrations shipped with the collector).

    \b
    Example:
      esup-collector db upgrade --store postgresql+psycopg://esup@db/esup
    """


@db.command("upgrade")
@_store_options
@_speaks
def db_upgrade(**options: Any) -> None:
    """Bring the store to the newest schema (safe to run twice, or from several hosts).

    \b
    Example:
      esup-collector db upgrade --data-dir /var/lib/esup-collector
    """
    from .store.migrate import current_revision

    settings = _settings(**options)
    engine = _engine(settings, upgrade=True)
    click.echo(f"store {settings.resolved_store_url} is at migration {current_revision(engine)}")
    engine.dispose()


# -- agents ----------------------------------------------------------------------------------
@main.group()
def agents() -> None:
    """Enrol, list and revoke the agents of departments.

    \b
    Examples:
      esup-collector agents token --department 11430700MB1234567X --name 市市场监管局
      esup-collector agents list
      esup-collector agents revoke ag-0123456789abcdef --reason "front-end machine stolen"
    """


@agents.command("token")
@_store_options
@click.option("--department", required=True, help="Department code (BMBM) the agent sends for.")
@click.option(
    "--name",
    default="",
    help="Department name; required to add a department the collector does not know yet.",
)
@click.option(
    "--expires-hours", default=24.0, show_default=True, type=float, help="Token lifetime."
)
@click.option(
    "--additional-agent",
    is_flag=True,
    help="The new agent runs next to the department's active agents instead of replacing them.",
)
@click.option("--created-by", default="", help="Who issued the token (audited); default: login.")
@_speaks
def agents_token(
    department: str,
    name: str,
    expires_hours: float,
    additional_agent: bool,
    created_by: str,
    **options: Any,
) -> None:
    """Issue a one-time enrolment token for one department's agent.

    Give the token and the collector key fingerprint to the department's IT person (by phone
    or in person); `esup-agent enrol` uses the token once and can pin the fingerprint.

    A department has one active agent: the agent enrolled with this token replaces (revokes)
    the department's active agents, as after re-installing or replacing the front-end machine.
    With --additional-agent it runs next to them (a second database on another machine).
    A department the collector does not know yet needs --name, so a mistyped code is refused.

    \b
    Examples:
      esup-collector agents token --department 11430700MB1234567X --expires-hours 48
      esup-collector agents token --department 11430700MB1234567X --name 市市场监管局
      esup-collector agents token --department 11430700MB1234567X --additional-agent
    """
    from .cli_engine import _actor
    from .keys import load_or_create_key
    from .store.enrolment import active_agents, create_token
    from .store.timestamps import utc_now

    if not 0 < expires_hours <= 24 * 30:
        raise click.BadParameter("use 0 < hours <= 720", param_hint="--expires-hours")
    settings = _settings(**options)
    key = load_or_create_key(settings.resolved_key_file)
    engine = _engine(settings)
    with engine.begin() as conn:
        token = create_token(
            conn,
            department,
            now=utc_now(),
            expires_hours=expires_hours,
            department_name=name,
            created_by=_actor(created_by),
            additional_agent=additional_agent,
        )
        current = active_agents(conn, department)
    engine.dispose()
    click.echo(f"token:                      {token}")
    click.echo(f"department:                 {department}")
    click.echo(f"expires in:                 {expires_hours:g} h (usable once)")
    click.echo(f"collector key fingerprint:  {key.key_id}")
    for agent in current:
        fate = "stays active" if additional_agent else "revoked when the new agent enrols"
        click.echo(
            f"current agent:              {agent.agent_id} on {agent.hostname or '?'}, {fate} "
            f"/ {'保持有效' if additional_agent else '新采集端注册后将被吊销'}"
        )


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


@agents.command("list")
@_store_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_speaks
def agents_list(as_json: bool, **options: Any) -> None:
    """List agents: department, status, last heartbeat, lag, backlog, highest seq and gaps.

    Lag is the time since the last heartbeat and the age of the oldest record the agent
    still holds undelivered (from its heartbeat). BACKLOG shows an agent still sending what
    it holds (records still to send, and for how long): the engine waits with its department's
    cards meanwhile, for at most the rules' grace window. Gaps are seqs missing between 1
    and the highest seq received.

    \b
    Examples:
      esup-collector agents list
      esup-collector agents list --json | jq '.[] | select(.gaps != [])'
    """
    from .store.overview import agents_overview
    from .store.timestamps import utc_now

    engine = _engine(_settings(**options))
    with engine.connect() as conn:
        rows = agents_overview(conn, now=utc_now())
    engine.dispose()
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no agents enrolled yet (esup-collector agents token --department CODE)")
        return
    header = ("AGENT", "DEPARTMENT", "STATUS", "HEARTBEAT", "UNDELIVERED", "BACKLOG", "SEQ", "GAPS")
    now = utc_now()
    lines = [header]
    for r in rows:
        gaps = ",".join(f"{a}-{b}" if a != b else str(a) for a, b in r.gaps) or "-"
        lines.append(
            (
                r.agent_id,
                r.department,
                r.status,
                f"{_age(r.heartbeat_age_seconds)} ago" if r.last_heartbeat_at else "never",
                _age(r.oldest_pending_seconds) if r.oldest_pending_seconds is not None else "-",
                (
                    f"{r.backlog_records or 0} to send, "
                    f"behind {_age((now - r.behind_since).total_seconds())}"
                    if r.behind_since
                    else "-"
                ),
                str(r.highest_seq) if r.highest_seq is not None else "-",
                gaps,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())


@agents.command("revoke")
@_store_options
@click.argument("agent_id")
@click.option("--reason", required=True, help="Why (kept with the agent and shown to it).")
@click.option("--by", "actor", default="", help="Who revokes (audited); default: login name.")
@_speaks
def agents_revoke(agent_id: str, reason: str, actor: str, **options: Any) -> None:
    """Revoke an agent: everything it sends afterwards is refused (403 agent_revoked).

    \b
    Example:
      esup-collector agents revoke ag-0123456789abcdef --reason "machine replaced"
    """
    from .cli_engine import _actor
    from .store.enrolment import revoke
    from .store.timestamps import utc_now

    engine = _engine(_settings(**options))
    with engine.begin() as conn:
        agent = revoke(conn, agent_id, reason, now=utc_now(), actor=_actor(actor))
    engine.dispose()
    click.echo(f"revoked {agent.agent_id} ({agent.department}) at {agent.revoked_at}: {reason}")


# -- import ----------------------------------------------------------------------------------
@main.command("import")
@_store_options
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--department", required=True, help="Department code (BMBM) of every record.")
@_speaks
def import_(file: Path, department: str, **options: Any) -> None:
    """Load spec records from a JSON Lines file, validated and stored like agent batches.

    Records whose BMBM differs from --department are rejected. Prints how many were
    accepted, duplicates, superseded (an older SJBBH) and invalid (with line numbers and
    reasons); exits 1 when any line was invalid.

    \b
    Example:
      esup-collector import backlog-2026.jsonl --department 11430700MB1234567X
    """
    from .importer import import_file

    settings = _settings(**options)
    engine = _engine(settings)
    bounds = settings.date_bounds
    size = file.stat().st_size
    try:
        if sys.stderr.isatty():
            with click.progressbar(
                length=size, label=f"importing {file.name}", file=sys.stderr
            ) as bar:
                summary = import_file(
                    engine, file, department, on_progress=bar.update, date_bounds=bounds
                )
        else:
            summary = import_file(engine, file, department, date_bounds=bounds)
    finally:
        engine.dispose()
    click.echo(f"accepted:    {summary.accepted}")
    click.echo(f"duplicates:  {summary.duplicate}")
    click.echo(f"superseded:  {summary.superseded}")
    click.echo(f"invalid:     {len(summary.invalid)}")
    for line, problems in summary.invalid:
        for p in problems:
            where = f" {p['path']}" if p.get("path") else ""
            click.echo(f"  line {line}:{where} {p['message_en']} / {p['message_zh']}")
    if summary.invalid:
        raise SystemExit(1)


__all__ = ["main"]

from .cli_supervision import supervision  # noqa: E402 - needs main's helpers defined above

main.add_command(supervision)

from .cli_engine import COMMANDS as _ENGINE_COMMANDS  # noqa: E402 - needs main's helpers

for _command in _ENGINE_COMMANDS:
    main.add_command(_command)

from .cli_notify import contacts, notify  # noqa: E402 - needs main's helpers

main.add_command(contacts)
main.add_command(notify)

from .cli_records import COMMANDS as _RECORD_COMMANDS  # noqa: E402 - needs main's helpers

for _command in _RECORD_COMMANDS:
    main.add_command(_command)
