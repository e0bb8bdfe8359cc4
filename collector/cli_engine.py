"""`esup-collector calendar | case | rules | verdicts | exemptions | audit`: the supervision
engine's commands (collector/engine/). Errors are printed in English and Chinese with a fix."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from .cli import _engine, _settings, _speaks, _store_options
from .clock import SHANGHAI, check_next_year
from .errors import CollectorError
from .store.timestamps import utc_now

_MONTHS_ZH = "一二三四五六七八九十"


def _at(value: str | None, option: str = "--at") -> datetime:
    """An aware time; without an offset it is Beijing time; a bare date is its midday."""
    if value is None:
        return utc_now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not an ISO time; use e.g. 2026-10-14T09:00+08:00 / 时间格式错误",
            param_hint=option,
        ) from exc
    if len(value) == 10:
        moment = moment.replace(hour=12)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=SHANGHAI)


def _date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not a date; use YYYY-MM-DD / 日期格式应为 YYYY-MM-DD",
            param_hint=option,
        ) from exc


def _actor(value: str | None) -> str:
    if value:
        return value
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


def _rules_option(func: Any) -> Any:
    return click.option(
        "--rules",
        "rules_file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="Rules file (TOML, see docs/rules-operator.md); default: the engine_rules_file "
        "setting, else the bundled default_rules.toml.",
    )(func)


def _load_rules(rules_file: Path | None, settings: Any) -> Any:
    from .engine.rules_file import load_rules

    return load_rules(rules_file or getattr(settings, "engine_rules_file", None))


def _by_option(func: Any) -> Any:
    return click.option("--by", "actor", help="Who does this (audited); default: login name.")(func)


# -- calendar --------------------------------------------------------------------------------
@click.group()
def calendar() -> None:
    """The working-day calendar (工作日历): import a year's notice, show, check, count.

    \b
    Examples:
      esup-collector calendar import notices/2027.toml
      esup-collector calendar show 2026
      esup-collector calendar check
      esup-collector calendar add-workdays 2026-09-24 5
    """


@calendar.command("import")
@_store_options
@_by_option
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@_speaks
def calendar_import(file: Path, actor: str | None, **options: Any) -> None:
    """Load a year from a State Council notice file as a new calendar version (audited).

    Prints every date whose work/rest status or holiday name changed.
    """
    from .engine.calendar_store import import_notice

    engine = _engine(_settings(**options))
    try:
        result = import_notice(engine, file, actor=_actor(actor))
    finally:
        engine.dispose()
    if result.version is None:
        click.echo(f"{file.name}: nothing changed; the calendar stays as it is / 日历无变化")
        return
    click.echo(
        f"{file.name}: calendar version {result.version}, {len(result.changes)} dates changed "
        f"/ 日历新版本 {result.version}，{len(result.changes)} 天有变化"
    )
    shown = result.changes if len(result.changes) <= 60 else result.changes[:60]
    for change in shown:
        click.echo(f"  {change.describe()}")
    if len(shown) < len(result.changes):
        click.echo(f"  ... and {len(result.changes) - len(shown)} more")
    click.echo("open clocks are recomputed at the next sweep (esup-collector rules run)")


@calendar.command("show")
@_store_options
@click.argument("year", type=int)
@click.option("--json", "as_json", is_flag=True, help="Every date of the year as JSON.")
@_speaks
def calendar_show(year: int, as_json: bool, **options: Any) -> None:
    """Print a year: a month grid (rest days in brackets) and the holidays and adjusted
    working days by name."""
    from .engine.calendar_store import current_calendar

    engine = _engine(_settings(**options))
    try:
        cal = current_calendar(engine)
    finally:
        engine.dispose()
    known = year in cal.years
    days: list[dict[str, Any]] = []
    day = date(year, 1, 1)
    while day.year == year:
        info = cal.day_info(day)
        days.append(
            {
                "date": day.isoformat(),
                "is_workday": cal.is_workday(day),
                "name": info.name if info else None,
                "source": info.source if info else None,
            }
        )
        day = date.fromordinal(day.toordinal() + 1)
    if as_json:
        click.echo(
            json.dumps(
                {"year": year, "calendar_version": int(cal.version), "known": known, "days": days},
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    if not known:
        click.echo(
            f"{year}: no calendar data (weekends only, provisional) / 没有 {year} 年的日历数据；"
            f"import the notice: esup-collector calendar import FILE"
        )
    click.echo(f"{year} (calendar version {cal.version}); [d] = rest day, d* = adjusted workday")
    for month in range(1, 13):
        click.echo(f"\n{month:>2} 月 {_MONTHS_ZH[month - 1] if month <= 10 else ''}")
        click.echo("  Mo   Tu   We   Th   Fr   Sa   Su")
        first = date(year, month, 1)
        cells = ["     "] * first.weekday()
        for entry in days:
            d = date.fromisoformat(entry["date"])
            if d.month != month:
                continue
            adjusted = entry["is_workday"] and d.weekday() >= 5
            text = (
                f"[{d.day:>2}]"
                if not entry["is_workday"]
                else f" {d.day:>2}{'*' if adjusted else ' '}"
            )
            cells.append(f"{text} ")
        for start in range(0, len(cells), 7):
            click.echo(" " + "".join(cells[start : start + 7]).rstrip())
    click.echo("\nexceptions to the weekend rule / 节假日与调休:")
    for entry in days:
        d = date.fromisoformat(entry["date"])
        weekend = d.weekday() >= 5
        if entry["is_workday"] == weekend:
            kind = "work (调休上班)" if entry["is_workday"] else "rest (放假)"
            click.echo(f"  {entry['date']} {kind} {entry['name'] or ''}".rstrip())


@calendar.command("check")
@_store_options
@click.option("--today", "today_text", help="Check as of this date (YYYY-MM-DD; default today).")
@_speaks
def calendar_check(today_text: str | None, **options: Any) -> None:
    """Exit 1 with a warning when this year's or (from 1 December) next year's data is
    missing; exit 0 otherwise."""
    from .engine.calendar_store import current_calendar

    today = _date(today_text, "--today") if today_text else utc_now().astimezone(SHANGHAI).date()
    engine = _engine(_settings(**options))
    try:
        cal = current_calendar(engine)
    finally:
        engine.dispose()
    warning = check_next_year(cal, today)
    if warning:
        click.echo(warning, err=True)
        raise SystemExit(1)
    years = sorted(cal.years)
    click.echo(f"calendar version {cal.version} covers {years[0]}-{years[-1]}: ok")


@calendar.command("add-workdays")
@_store_options
@click.argument("start")
@click.argument("n", type=click.IntRange(min=0))
@_speaks
def calendar_add_workdays(start: str, n: int, **options: Any) -> None:
    """Print the date N working days after START (day 1 = the first working day after it).

    \b
    Example:
      esup-collector calendar add-workdays 2026-09-24 5     # prints 2026-10-09
    """
    begin = _date(start, "START")
    result = _calendar_for_arithmetic(_settings(**options)).add_workdays(begin, n)
    click.echo(result.date.isoformat())
    if result.provisional:
        click.echo("(provisional)", err=True)


def _calendar_for_arithmetic(settings: Any) -> Any:
    """The store's current calendar; before any store exists, the built-in one (the
    chinese-calendar seed), so date arithmetic works on a machine with no collector yet."""
    from .clock import WorkCalendar, seed_rows, seed_years
    from .engine.calendar_store import current_calendar
    from .store.engine import make_engine
    from .store.migrate import current_revision

    url = settings.resolved_store_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        engine = None
    else:
        engine = make_engine(url)
        if current_revision(engine) is None:
            engine.dispose()
            engine = None
    if engine is None:
        click.echo("(no collector store yet: built-in calendar / 使用内置日历)", err=True)
        return WorkCalendar.from_rows(seed_rows(seed_years()))
    try:
        _engine(settings).dispose()  # refuses a store behind the newest migration
        return current_calendar(engine)
    finally:
        engine.dispose()


# -- case ------------------------------------------------------------------------------------
@click.group()
def case() -> None:
    """One case (办件): its timeline, clock and verdicts.

    \b
    Example:
      esup-collector case show 430700SCJ20260924001 --at 2026-10-10T09:00
    """


@case.command("show")
@_store_options
@_rules_option
@click.argument("sblsh")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (dates as ISO strings).")
@click.option("--at", "at_text", help="Evaluate as of this time (default now; Beijing time).")
@_speaks
def case_show(
    sblsh: str, as_json: bool, at_text: str | None, rules_file: Path | None, **options: Any
) -> None:
    """Show a case's timeline (event and received times), its clock and its verdicts."""
    from .engine.case_view import case_view, render_text

    settings = _settings(**options)
    rules = _load_rules(rules_file, settings)
    engine = _engine(settings)
    try:
        view = case_view(engine, sblsh, rules, _at(at_text))
    except (CollectorError, SQLAlchemyError, click.ClickException):
        raise  # worded already (by @_speaks for the first two)
    except Exception as exc:  # a bug shows as a message, never a traceback
        raise click.ClickException(
            f"办件 {sblsh} 无法显示(程序错误),请将办件编号告知运维人员 / case {sblsh} "
            f"cannot be shown (a bug: {type(exc).__name__}: {exc}); tell the operators"
        ) from exc
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(view, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(render_text(view))


# -- rules -----------------------------------------------------------------------------------
@click.group()
def rules() -> None:
    """The verdict rules: show the active file, run the sweep once.

    \b
    Examples:
      esup-collector rules show
      esup-collector rules run --at 2026-10-15T09:00
    """


@rules.command("show")
@_store_options
@_rules_option
@_speaks
def rules_show(rules_file: Path | None, **options: Any) -> None:
    """Print the rules in force, their version and the version the store last ran with."""
    from .engine.rules_store import active_version

    settings = _settings(**options)
    loaded = _load_rules(rules_file, settings)
    engine = _engine(settings)
    try:
        with engine.connect() as conn:
            stored = active_version(conn)
    finally:
        engine.dispose()
    click.echo(f"rules file: {loaded.source}")
    click.echo(f"version:    {loaded.version}")
    click.echo(f"store last ran with: {stored or 'none yet'}")
    for key, value in loaded.clock.as_dict().items():
        if key != "version":
            click.echo(f"  {key} = {value}")
    click.echo(f"  [engine] silence_after_hours = {loaded.silence_after_hours}")
    for code, days in sorted(loaded.step_limits.items()):
        click.echo(f"  [engine.step_limits] {code} = {days} working days")


def _sweep_progress() -> Callable[[int], None]:
    def show(cases: int) -> None:
        click.echo(f"\r评估中 / evaluating: {cases:,} cases", err=True, nl=False)

    return show


@rules.command("run")
@_store_options
@_rules_option
@click.option("--at", "at_text", help="Evaluate as of this time (default now; Beijing time).")
@click.option(
    "--mode",
    type=click.Choice(["full", "dirty"]),
    default="full",
    show_default=True,
    help="full: every open case; dirty: cases with records received since the last sweep.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help=(
        "Worker processes for a sweep of more than 2,000 cases (default: the "
        "engine_sweep_workers setting; 0: one per CPU core, at most 4; 1: none)."
    ),
)
@_speaks
def rules_run(
    at_text: str | None,
    mode: str,
    rules_file: Path | None,
    workers: int | None,
    **options: Any,
) -> None:
    """Run the sweep once and print what it did (exit 0; 75 when another sweep was running).

    \b
    Examples:
      esup-collector rules run
      esup-collector rules run --at "2026-10-09 09:00" --workers 1
    """
    from .engine.sweep import run_sweep
    from .supervision import listener as supervision_listener
    from .supervision.matters import MatterPolicy

    settings = _settings(**options)
    loaded = _load_rules(rules_file, settings)
    engine = _engine(settings)
    # Cards issued here open their supervision matters in the same transaction, as in the
    # collector's own sweeps (notifications catch up from the outbox's next run).
    supervision_listener.subscribe(MatterPolicy(reply_workdays=settings.supervision_reply_workdays))
    try:
        result = run_sweep(
            engine,
            mode=mode,
            at=_at(at_text),
            rules=loaded,
            workers=(settings.engine_sweep_workers if workers is None else workers) or None,
            progress=_sweep_progress() if sys.stderr.isatty() else None,
        )
    finally:
        supervision_listener.unsubscribe()
        engine.dispose()
    if sys.stderr.isatty():
        click.echo("", err=True)
    click.echo(result.summary())
    if not result.ran:
        raise SystemExit(75)


# -- verdicts --------------------------------------------------------------------------------
@click.group()
def verdicts() -> None:
    """Verdicts (预警、黄牌、红牌、异常): list them, decide reassessment proposals.

    \b
    Examples:
      esup-collector verdicts list --department 11430700MB1534211G
      esup-collector verdicts reassess
      esup-collector verdicts reassess --accept 3 --by 李监察员
      esup-collector verdicts reassess --reject 4 --reason "调休不影响该件" --by 李监察员
    """


@verdicts.command("list")
@_store_options
@click.option("--case", "case_id", help="Only this case (SBLSH).")
@click.option("--department", help="Only this department (code).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_speaks
def verdicts_list(
    case_id: str | None, department: str | None, as_json: bool, **options: Any
) -> None:
    """List stored verdicts (withdrawn and superseded ones are marked, never removed)."""
    from .engine.verdict_view import list_verdicts, verdict_words
    from .notify.outbox import KIND_ZH
    from .store.timestamps import beijing_minute

    engine = _engine(_settings(**options))
    try:
        listed = list_verdicts(engine, case=case_id, department=department)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps(listed, ensure_ascii=False, indent=2, default=str))
        return
    if not listed:
        click.echo("no verdicts / 没有判定")
    for v in listed:
        flags = [f for f in ("withdrawn", "superseded", "resolved") if v[f]]
        code = f" {v['code']}" if v["code"] else ""
        note = f" [{', '.join(flags)}]" if flags else ""
        # Beijing time to the minute, as the bureau reads times; --json keeps the exact instant.
        issued = beijing_minute(datetime.fromisoformat(v["issued_at"]) if v["issued_at"] else None)
        kind = f"{KIND_ZH.get(v['kind'], '')} {v['kind']}".strip()
        click.echo(
            f"{v['id']:>6} {issued} {v['department']} {v['case_id'] or '-'} {kind}{code}{note}"
        )
        words = verdict_words(v)
        if words:
            click.echo(f"       {words}")
        if v["resolution"]:
            click.echo(f"       {v['resolution']}")


@verdicts.command("reassess")
@_store_options
@_by_option
@click.option("--accept", "accept_id", type=int, help="Accept this proposal.")
@click.option("--reject", "reject_id", type=int, help="Reject this proposal (needs --reason).")
@click.option("--reason", default="", help="Why (required to reject; audited).")
@click.option("--json", "as_json", is_flag=True, help="List pending proposals as JSON.")
@_speaks
def verdicts_reassess(
    accept_id: int | None,
    reject_id: int | None,
    reason: str,
    actor: str | None,
    as_json: bool,
    **options: Any,
) -> None:
    """List pending reassessment proposals, or accept / reject one.

    Proposals appear after a calendar or rules change when a verdict's basis changed. Accepting
    a "withdraw" proposal marks the verdict withdrawn (a new record; the verdict itself stays).
    """
    from .engine import reassess

    if accept_id is not None and reject_id is not None:
        raise click.UsageError("give either --accept or --reject, not both")
    engine = _engine(_settings(**options))
    try:
        if accept_id is not None or reject_id is not None:
            target = accept_id if accept_id is not None else reject_id
            assert target is not None
            reassess.decide(
                engine, target, accept=accept_id is not None, by=_actor(actor), reason=reason
            )
            word = "accepted" if accept_id is not None else "rejected"
            click.echo(f"proposal {target} {word} / 复核建议已处理")
            return
        pending = reassess.list_proposals(engine)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in pending], ensure_ascii=False, indent=2))
        return
    if not pending:
        click.echo("no pending proposals / 没有待复核的建议")
    for p in pending:
        old = p.old_basis.get("promised_deadline")
        new = p.new_basis.get("promised_deadline")
        click.echo(
            f"{p.id:>5} verdict {p.verdict_id} {p.sblsh} {p.kind}: propose {p.action} "
            f"(promised deadline {old} -> {new}; calendar v{p.old_basis.get('calendar_version')}"
            f" -> v{p.new_basis.get('calendar_version')})"
        )


# -- exemptions ------------------------------------------------------------------------------
@click.group()
def exemptions() -> None:
    """Exemptions (豁免): a rule does not apply to a case until a date; audited.

    \b
    Example:
      esup-collector exemptions add --case 430700SCJ20260924001 --rule overdue \\
          --reason "系统故障，经批准" --approver 王局长 --expires 2026-12-31
    """


@exemptions.command("add")
@_store_options
@_by_option
@click.option("--case", "case_id", required=True, help="Case number (SBLSH).")
@click.option(
    "--rule",
    required=True,
    help="Rule, kind or anomaly code: overdue, warning, yellow, red, late_report, ... or *.",
)
@click.option("--reason", required=True, help="Why (audited).")
@click.option("--approver", required=True, help="Who approved it.")
@click.option("--expires", "expires_text", required=True, help="Last valid date, YYYY-MM-DD.")
@_speaks
def exemptions_add(
    case_id: str,
    rule: str,
    reason: str,
    approver: str,
    expires_text: str,
    actor: str | None,
    **options: Any,
) -> None:
    """Add an exemption (suppresses matching verdicts while valid)."""
    from .engine import exemptions as store

    expires = _date(expires_text, "--expires")
    engine = _engine(_settings(**options))
    try:
        new_id = store.add(
            engine,
            sblsh=case_id,
            rule=rule,
            reason=reason,
            approver=approver,
            expires_on=expires,
            actor=_actor(actor),
            today=utc_now().astimezone(SHANGHAI).date(),
        )
    finally:
        engine.dispose()
    click.echo(f"exemption {new_id}: {case_id} {rule} until {expires} (approved by {approver})")


@exemptions.command("list")
@_store_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_speaks
def exemptions_list(as_json: bool, **options: Any) -> None:
    """List every exemption with its expiry."""
    from .engine import exemptions as store

    engine = _engine(_settings(**options))
    try:
        listed = store.list_all(engine)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps([e.as_dict() for e in listed], ensure_ascii=False, indent=2))
        return
    if not listed:
        click.echo("no exemptions / 没有豁免")
    for e in listed:
        click.echo(f"{e.id:>5} {e.sblsh} {e.rule} until {e.expires_on} by {e.approver}: {e.reason}")


# -- audit -----------------------------------------------------------------------------------
@click.group()
def audit() -> None:
    """The append-only audit log (calendar imports, rules, exemptions, reassessment, agents)."""


@audit.command("verify")
@_store_options
@_speaks
def audit_verify(**options: Any) -> None:
    """Check the audit log's hash chain; exit 1 naming the first entry that does not match."""
    from .engine.audit import verify

    engine = _engine(_settings(**options))
    try:
        report = verify(engine)
    finally:
        engine.dispose()
    if report.broken_at is not None:
        click.echo(
            f"audit chain broken at entry {report.broken_at}: {report.reason} / 审计链在第 "
            f"{report.broken_at} 条处断开；the log was altered outside the collector: restore "
            "it from a backup and investigate",
            err=True,
        )
        raise SystemExit(1)
    click.echo(f"audit chain ok: {report.entries} entries / 审计链完整")


COMMANDS: tuple[click.Group, ...] = (calendar, case, rules, verdicts, exemptions, audit)
