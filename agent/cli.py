"""Command line of the agent (esup-agent).

Only this module speaks to people: every AgentError raised below becomes a message saying
what failed, where and how to fix it, and a non-zero exit status.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
from datetime import datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from . import __version__
from .errors import AgentError

log = logging.getLogger("esup.agent")

DEFAULT_CONFIG = "/etc/esupervision/agent.toml"
SAMPLE_ROWS = 20
#: How many quarantined sample rows `check` lists per table, and problems per row.
QUARANTINE_ROWS_SHOWN = 10
PROBLEMS_SHOWN = 3


class AgentGroup(click.Group):
    """Turns the agent's own errors into one clear message and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AgentError as exc:
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc


def config_option(f: Any) -> Any:
    return click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=DEFAULT_CONFIG,
        show_default=True,
        envvar="ESUP_AGENT_CONFIG",
        help="The agent's TOML config file (env ESUP_AGENT_CONFIG).",
    )(f)


def _load(config_path: Path) -> Any:
    from .config import load_config

    return load_config(config_path)


@click.group(cls=AgentGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="esup-agent")
def main() -> None:
    """Run the esupervision agent on a department's front-end machine.

    \b
    Examples:
      esup-agent init agent.toml
      esup-agent check -c agent.toml
      esup-agent enrol -c agent.toml --token TOKEN
      esup-agent run -c agent.toml
      esup-agent status -c agent.toml
    """


# -- init ------------------------------------------------------------------------------------
def example_config() -> str:
    return files("agent").joinpath("templates/agent.example.toml").read_text("utf-8")


@main.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def init(path: Path) -> None:
    """Write a complete, commented example config to PATH (never overwrites).

    The file is created readable by its owner only (mode 0600): it will hold the
    database password.

    \b
    Examples:
      esup-agent init /etc/esupervision/agent.toml
      esup-agent init agent.toml && esup-agent check -c agent.toml
    """
    if path.exists():
        raise click.ClickException(
            f"{path} already exists; not overwritten. Fix: choose another path or move the "
            "file away / 文件已存在，未覆盖"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # 0600 from the first byte: the file will hold the database password.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(example_config())
    except OSError as exc:
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from exc
    click.echo(f"wrote {path}")
    click.echo("next: edit [agent], [collector] and [[sources]], then run")
    click.echo(f"  esup-agent check -c {path}")


# -- check -----------------------------------------------------------------------------------
def _probe_collector(config: Any) -> tuple[bool, str]:
    import httpx

    from .transport import build_client

    try:
        with build_client(config.collector) as client:
            response = client.get("/healthz")
    except httpx.HTTPError as exc:
        return False, f"not reachable: {type(exc).__name__}: {exc}"
    try:
        key_id = response.json().get("collector_key_id") if response.status_code == 200 else None
    except ValueError:
        key_id = None
    if not key_id:
        return False, (
            f"answers HTTP {response.status_code} but is not an esupervision collector "
            "(no /healthz): check [collector] url / 地址不是电子监察采集端"
        )
    expected = config.collector.collector_key_fingerprint
    if expected and expected != key_id:
        return False, (
            f"collector key id is {key_id}, but the config pins {expected}: ask the bureau "
            "which is right before enrolling / 采集端密钥指纹与配置不符"
        )
    return True, f"reachable, collector key id {key_id}"


@main.command()
@config_option
@click.option("--sample", default=SAMPLE_ROWS, show_default=True, help="Rows mapped per table.")
@click.option("--offline", is_flag=True, help="Only validate the file; contact nothing.")
def check(config_path: Path, sample: int, offline: bool) -> None:
    """Validate the config, reach every source and the collector, map sample rows.

    Changes nothing: no outbox is written and no key is created. Exits 1 when something
    must be fixed before `run`.

    \b
    Examples:
      esup-agent check -c agent.toml
      esup-agent check -c agent.toml --sample 100
      esup-agent check -c agent.toml --offline
    """
    from .config import password_exposure
    from .mapping import Mapping
    from .pipeline import map_chunk
    from .preflight import exclusion_gaps
    from .signing import HMAC_KEY_FILE, AgentKeys, state_dir_exposure
    from .sources import OdbcSource

    config = _load(config_path)
    click.echo(f"config {config_path}: ok ({len(config.sources)} source(s))")
    failures = 0
    for exposed in (password_exposure(config), state_dir_exposure(config.agent.state_dir)):
        if exposed:
            failures += 1
            click.echo(f"permissions: FAILED: {exposed}", err=True)
    if offline:
        if failures:
            raise click.ClickException(f"{failures} check(s) failed; see above / 检查未通过")
        return
    keys = AgentKeys(config.agent.state_dir)
    hmac_path = config.agent.state_dir / HMAC_KEY_FILE
    # A throwaway secret when none exists yet: validity does not depend on it.
    hmac_key = hmac_path.read_bytes() if hmac_path.exists() else secrets.token_bytes(32)
    for settings in config.sources:
        try:
            if not settings.mapping:
                raise AgentError(f"source '{settings.name}' has no 'mapping' file")
            mapping = Mapping.load(settings.mapping, hmac_key=hmac_key, timezone=settings.timezone)
            with OdbcSource(settings) as source:
                now = source.database_now()
                click.echo(f"source {settings.name}: reachable, database time {now}")
                for gap in exclusion_gaps(source, settings, mapping):
                    failures += 1
                    click.echo(f"  FAILED: {gap}", err=True)
                for table in settings.tables:
                    rows = source.sample(table, sample)
                    mapped = map_chunk(settings.name, table, rows, mapping)
                    click.echo(
                        f"  {table.record_type} {table.label}: {len(rows)} sample rows -> "
                        f"{len(mapped.records)} valid, {len(mapped.quarantined)} would be "
                        f"quarantined, {mapped.excluded} excluded"
                    )
                    if mapped.quarantined:
                        # The agent would keep these rows back: fix the mapping (or the
                        # data) first, as `run` would only fill the quarantine.
                        failures += 1
                        _echo_quarantined(mapped.quarantined)
        except AgentError as exc:
            failures += 1
            click.echo(f"source {settings.name}: FAILED: {exc}", err=True)
    ok, words = _probe_collector(config)
    click.echo(f"collector {config.collector.url}: {words}")
    failures += 0 if ok else 1
    enrolment = keys.enrolment()
    click.echo(
        f"enrolment: agent {enrolment.agent_id}"
        if enrolment
        else "enrolment: not enrolled yet (run `esup-agent enrol`)"
    )
    if failures:
        raise click.ClickException(f"{failures} check(s) failed; see above / 检查未通过")
    click.echo("all checks passed / 检查通过")


def _echo_quarantined(items: list[Any]) -> None:
    """Each quarantined sample row with its reasons, bounded."""
    for item in items[:QUARANTINE_ROWS_SHOWN]:
        click.echo(f"    FAILED: {item.row_key} would be quarantined: 该样本行将被隔离", err=True)
        problems = item.problems or [{"message_en": item.reason}]
        for p in problems[:PROBLEMS_SHOWN]:
            zh = p.get("message_zh", "")
            text = f"{p.get('path', '')}: {p.get('message_en', '')}" + (f" / {zh}" if zh else "")
            click.echo(f"      {text}", err=True)
        if len(problems) > PROBLEMS_SHOWN:
            more = len(problems) - PROBLEMS_SHOWN
            click.echo(f"      ... and {more} more problem(s) / 另有 {more} 个问题", err=True)
    if len(items) > QUARANTINE_ROWS_SHOWN:
        click.echo(
            f"    ... and {len(items) - QUARANTINE_ROWS_SHOWN} more row(s) / 另有 "
            f"{len(items) - QUARANTINE_ROWS_SHOWN} 行",
            err=True,
        )


# -- enrol -----------------------------------------------------------------------------------
@main.command()
@config_option
@click.option("--token", required=True, help="One-time enrolment token from the operator.")
@click.option(
    "--collector-fingerprint",
    default="",
    help="Expected key id of the collector (overrides collector.collector_key_fingerprint).",
)
def enrol(config_path: Path, token: str, collector_fingerprint: str) -> None:
    """Enrol this agent with the collector using a one-time token.

    Creates the agent's key on first use, sends its public key, and pins the collector's
    signing key in the state directory.

    \b
    Examples:
      esup-agent enrol -c agent.toml --token 8f3a...
      esup-agent enrol -c agent.toml --token 8f3a... --collector-fingerprint 1a2b3c4d5e6f7a8b
    """
    from .enrol import enrol as do_enrol
    from .runner import open_outbox
    from .signing import AgentKeys, ensure_state_dir
    from .transport import build_client

    config = _load(config_path)
    ensure_state_dir(config.agent.state_dir)
    keys = AgentKeys(config.agent.state_dir)
    with build_client(config.collector) as client:
        enrolment = do_enrol(
            client,
            keys,
            token=token,
            department=config.agent.department,
            collector_fingerprint=collector_fingerprint
            or config.collector.collector_key_fingerprint,
        )
    with open_outbox(config) as outbox:
        outbox.link.resume()  # a new enrolment lifts a refusal
    click.echo(f"enrolled as agent {enrolment.agent_id} for department {enrolment.department}")
    click.echo(f"agent key id: {keys.key_id}; collector key id: {enrolment.collector_key_id}")


# -- run -------------------------------------------------------------------------------------
@main.command()
@config_option
@click.option("--once", is_flag=True, help="One poll of every source and one push, then exit.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
def run(config_path: Path, once: bool, verbose: bool) -> None:
    """Run the agent: poll sources, push batches, send heartbeats, serve metrics.

    Stops cleanly on SIGTERM or Ctrl-C. Refuses to start when an exclusion rule tests a
    column a table does not have, or the agent key is readable by other users. With --once,
    exits 1 when the poll of any source or the push failed.

    \b
    Examples:
      esup-agent run -c /etc/esupervision/agent.toml
      esup-agent run -c agent.toml --once
    """
    from .config import password_exposure
    from .preflight import refuse_exclusion_gaps
    from .runner import Agent
    from .signing import state_dir_exposure

    _quiet_logging(verbose)
    config = _load(config_path)
    agent = Agent.build(config)
    try:
        for exposed in (password_exposure(config), state_dir_exposure(config.agent.state_dir)):
            if exposed:
                log.warning("%s", exposed)
        for unreachable in refuse_exclusion_gaps((p.settings, p.mapper) for p in agent.pipelines):
            log.warning("exclusion rules not checked against the tables now: %s", unreachable)
    except AgentError:
        agent.close()
        raise
    if not once:
        agent.run_forever()
        return
    try:
        result = agent.run_once()
    finally:
        agent.close()
    for r in result["polls"]:
        click.echo(
            f"poll {r.source} {r.table}: {r.rows} rows, {r.added} new, {r.duplicates} "
            f"already sent, {r.quarantined} quarantined, {r.excluded} excluded"
            + (f"; PAUSED: {r.paused}" if r.paused else "")
        )
    push = result["push"]
    click.echo(
        f"push: {push.batches} batch(es), {push.delivered} delivered, {push.rejected} rejected"
    )
    failed = [f"poll of source {name} failed: {why}" for name, why in result["poll_errors"]]
    if push.error:
        failed.append(f"push failed: {push.error}")
    if failed:
        raise click.ClickException("\n".join(failed) + " / 本次运行未成功")


def _quiet_logging(verbose: bool) -> None:
    """INFO: one line per poll and push that moved something, warnings and errors. The
    scheduler's two lines per job run and httpx's line per request are DEBUG detail."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        for name in ("apscheduler", "httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)


# -- status ----------------------------------------------------------------------------------
@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts and monitoring.")
def status(config_path: Path, as_json: bool) -> None:
    """Show cursors, outbox depth, quarantine, pauses, last errors and clock offset.

    Reads the outbox without writing to it; works while the agent runs.

    \b
    Examples:
      esup-agent status -c agent.toml
      esup-agent status -c agent.toml --json | jq .outbox.pending
    """
    from .runner import open_outbox
    from .signing import AgentKeys
    from .status import collect, render

    config = _load(config_path)
    enrolment = AgentKeys(config.agent.state_dir).enrolment()
    with open_outbox(config, readonly=True) as outbox:
        data = collect(outbox)
    data["agent_id"] = enrolment.agent_id if enrolment else None
    data["department"] = config.agent.department
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(render(data, agent_id=data["agent_id"]))


# -- backfill --------------------------------------------------------------------------------
def _parse_bound(text: str, zone: ZoneInfo, *, end: bool) -> datetime:
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if end and fmt == "%Y-%m-%d":
            moment += timedelta(days=1)  # a --to day is included in full
        return moment.replace(tzinfo=zone)
    raise click.BadParameter(f"{text!r} is not a date like 2026-11-30 or 2026-11-30 08:00")


@main.command()
@config_option
@click.option("--from", "start", default=None, help="First day (or time) to re-read.")
@click.option("--to", "end", default=None, help="Last day to re-read (included).")
@click.option("--from-key", type=int, default=None, help="First key, for tables read by key.")
@click.option("--to-key", type=int, default=None, help="Last key (included), same tables.")
@click.option("--source", "source_name", default=None, help="Only this source.")
@click.option("--type", "record_type", default=None, help="Only tables of this record type.")
def backfill(
    config_path: Path,
    start: str | None,
    end: str | None,
    from_key: int | None,
    to_key: int | None,
    source_name: str | None,
    record_type: str | None,
) -> None:
    """Re-read a range from the legacy database into the outbox.

    Tables read by timestamp take --from/--to (days, in the source's time zone), tables
    read by key take --from-key/--to-key, snapshot tables are read whole. Records already
    captured are recognised by their keys and not stored twice; the collector deduplicates
    too. Cursors do not move.

    \b
    Examples:
      esup-agent backfill -c agent.toml --from 2026-11-01 --to 2026-11-30
      esup-agent backfill -c agent.toml --from 2026-11-29 --to 2026-11-29 --source xzsp
      esup-agent backfill -c agent.toml --from-key 1000 --to-key 2000 --type SX
    """
    from .pipeline import Pipeline
    from .runner import open_outbox
    from .signing import AgentKeys, ensure_state_dir
    from .sources import OdbcSource

    if (start is None) != (end is None) or (from_key is None) != (to_key is None):
        raise click.UsageError("give both --from and --to, or both --from-key and --to-key")
    if start is None and from_key is None:
        raise click.UsageError("give a range: --from/--to (days) or --from-key/--to-key")
    if from_key is not None and to_key is not None and to_key < from_key:
        raise click.BadParameter("--to-key is before --from-key")
    config = _load(config_path)
    sources = [config.source(source_name)] if source_name else list(config.sources)
    ensure_state_dir(config.agent.state_dir)  # 0700 before the outbox is created in it
    keys = AgentKeys(config.agent.state_dir)
    total_added = total_dupes = 0
    with open_outbox(config) as outbox:
        for settings in sources:
            zone = ZoneInfo(settings.timezone)
            bounds: dict[str, tuple[Any, Any]] = {"snapshot": (None, None)}
            if start is not None and end is not None:
                first = _parse_bound(start, zone, end=False)
                last = _parse_bound(end, zone, end=True)
                if last <= first:
                    raise click.BadParameter("--to is before --from")
                bounds["timestamp"] = (first, last)
            if from_key is not None and to_key is not None:
                bounds["key"] = (from_key, to_key + 1)
            pipeline = Pipeline.for_source(settings, outbox, keys.hmac_key())
            with OdbcSource(settings) as source:
                for table in settings.tables:
                    if record_type and table.record_type != record_type:
                        continue
                    if table.mode not in bounds:
                        need = "--from-key/--to-key" if table.mode == "key" else "--from/--to"
                        click.echo(f"{settings.name} {table.label}: skipped (needs {need})")
                        continue
                    low, high = bounds[table.mode]
                    expected = source.count(table, low, high)
                    label = f"{settings.name} {table.record_type} {table.label}"
                    with click.progressbar(length=expected or 0, label=label) as bar:
                        report = pipeline.backfill(
                            table, low, high, progress=bar.update, source=source
                        )
                    total_added += report.added
                    total_dupes += report.duplicates
                    click.echo(
                        f"{label}: {report.rows} rows, {report.added} new, "
                        f"{report.duplicates} already in the outbox, "
                        f"{report.quarantined} quarantined"
                    )
    click.echo(f"backfill done: {total_added} new records, {total_dupes} already present")


# -- quarantine ------------------------------------------------------------------------------
@main.group(cls=AgentGroup)
def quarantine() -> None:
    """Rows the mapping could not turn into valid records (kept on this machine).

    \b
    Examples:
      esup-agent quarantine list -c agent.toml
      esup-agent quarantine replay -c agent.toml
    """


@quarantine.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (includes the rows).")
@click.option("--all", "show_all", is_flag=True, help="Include rows already replayed.")
def quarantine_list(config_path: Path, as_json: bool, show_all: bool) -> None:
    """List quarantined rows with the problems that keep them out.

    \b
    Examples:
      esup-agent quarantine list -c agent.toml
      esup-agent quarantine list -c agent.toml --json > quarantine.json
    """
    from .runner import open_outbox

    config = _load(config_path)
    with open_outbox(config, readonly=True) as outbox:
        entries = outbox.quarantine(None if show_all else "open")
    if as_json:
        click.echo(
            json.dumps([e.as_dict(with_row=True) for e in entries], ensure_ascii=False, indent=2)
        )
        return
    if not entries:
        click.echo("no quarantined rows / 无隔离记录")
        return
    for e in entries:
        click.echo(
            f"#{e.id} {e.source} {e.table_key} {e.row_key} ({e.state}, seen {e.count}x, "
            f"last {e.last_seen})"
        )
        for p in e.problems:
            click.echo(
                f"    {p.get('code', '')} {p.get('path', '')}: {p.get('message_en', '')} / "
                f"{p.get('message_zh', '')}"
            )
        if not e.problems and e.reason:
            click.echo(f"    {e.reason}")


@quarantine.command("replay")
@config_option
def quarantine_replay(config_path: Path) -> None:
    """Map quarantined rows again with the current mapping; valid ones join the outbox.

    Run it after fixing the mapping file. Rows still invalid stay quarantined.

    \b
    Examples:
      esup-agent quarantine replay -c agent.toml
    """
    from .mapping import Mapping
    from .pipeline import RowMapper, replay_quarantine
    from .runner import open_outbox
    from .signing import AgentKeys

    config = _load(config_path)
    hmac_key = AgentKeys(config.agent.state_dir).hmac_key()
    mappers: dict[str, RowMapper] = {
        s.name: Mapping.load(s.mapping, hmac_key=hmac_key, timezone=s.timezone)
        for s in config.sources
        if s.mapping
    }
    with open_outbox(config) as outbox:
        counts = replay_quarantine(outbox, mappers)
    click.echo(
        f"replayed {counts['replayed']} row(s) into the outbox ({counts['added']} new), "
        f"{counts['excluded']} now excluded, {counts['still_invalid']} still invalid"
        + (
            f", {counts['no_source']} of sources no longer configured"
            if counts["no_source"]
            else ""
        )
    )


from . import cli_keys  # noqa: E402 - needs main's helpers defined above

main.add_command(cli_keys.rotate_key)
