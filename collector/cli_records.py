"""`esup-collector records | departments` and `case move`: the bureau's hand on stored data.

Who owns which case numbers (the register of case-number prefixes), moving a case between
departments, withdrawing a record, and what the ingest refused. Every change is written to
the audit chain (collector/engine/audit.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import click
from sqlalchemy import Connection

from exchange_spec import CASE_TYPES
from exchange_spec.records import KEY_FIELDS

from .cli import _engine, _settings, _speaks, _store_options
from .cli_engine import _actor, _by_option, _load_rules, _rules_option, case
from .errors import OperatorError
from .store.timestamps import beijing_minute, utc_now

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def _audited(
    options: dict[str, Any],
    actor: str | None,
    action: str,
    subject: str,
    change: Callable[[Connection, datetime, str], tuple[T, dict[str, Any]]],
) -> T:
    """Run ``change(conn, now, by)`` and write its audit entry in one transaction; ``change``
    returns its result and the entry's details."""
    from .engine import audit

    by = _actor(actor)
    now = utc_now()
    engine = _engine(_settings(**options))
    try:
        with engine.begin() as conn:
            result, details = change(conn, now, by)
            audit.append(conn, at=now, actor=by, action=action, subject=subject, details=details)
    finally:
        engine.dispose()
    return result


def _reading(options: dict[str, Any], read: Callable[[Connection], T]) -> T:
    """Open the store named by the command's options, read with ``read``, close it."""
    engine = _engine(_settings(**options))
    try:
        with engine.connect() as conn:
            return read(conn)
    finally:
        engine.dispose()


def _reason_option(func: F) -> F:
    return click.option("--reason", required=True, help="Why (audited).")(func)


# -- departments -----------------------------------------------------------------------------
@click.group()
def departments() -> None:
    """Departments and the case numbers they issue (the register of case-number prefixes).

    A case number is region + department part + serial (430702 0301 2026000001). A case whose
    number starts with a department's prefix is that department's: another department's
    records for it are refused (foreign_case).

    \b
    Examples:
      esup-collector departments add-prefix 114307020000000001 4307020301 --name 区市场监管局
      esup-collector departments list
    """


@departments.command("list")
@_store_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_speaks
def departments_list(as_json: bool, **options: Any) -> None:
    """List departments with their registered case-number prefixes."""
    from .store.case_prefixes import list_departments

    rows = _reading(options, list_departments)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no departments yet / 尚无部门")
    for r in rows:
        prefixes = ", ".join(r.prefixes) or "-（未登记前缀 no prefix）"
        click.echo(f"{r.code}  {r.name or '-'}  办件编号前缀 prefixes: {prefixes}")


@departments.command("add-prefix")
@_store_options
@_by_option
@click.argument("department")
@click.argument("prefix")
@click.option("--name", default="", help="Department name, kept with its code.")
@_speaks
def departments_add_prefix(
    department: str, prefix: str, name: str, actor: str | None, **options: Any
) -> None:
    """Register PREFIX (region + department part) as DEPARTMENT's case numbers (audited).

    New cases whose number starts with it belong to DEPARTMENT, whoever sends them first.
    Cases already held keep their department; the command says how many with this prefix
    belong to another one (move them with `esup-collector case move` if they are wrong).

    \b
    Example:
      esup-collector departments add-prefix 114307020000000001 4307020301
    """
    from .store.case_prefixes import add_prefix

    def change(conn: Connection, now: datetime, by: str) -> tuple[int, dict[str, Any]]:
        found = add_prefix(conn, department, prefix, name=name, by=by, now=now)
        return found, {"prefix": prefix, "name": name}

    others = _audited(options, actor, "department.prefix_add", f"department:{department}", change)
    click.echo(f"registered prefix {prefix} for {department} / 已登记办件编号前缀")
    if others:
        click.echo(
            f"note: {others} cases already held with this prefix belong to other departments; "
            f"they keep their department / 已有 {others} 个此前缀的办件属于其他部门，未改变，"
            "如有错误请用 esup-collector case move 划转"
        )


@departments.command("remove-prefix")
@_store_options
@_by_option
@_reason_option
@click.argument("department")
@click.argument("prefix")
@_speaks
def departments_remove_prefix(
    department: str, prefix: str, reason: str, actor: str | None, **options: Any
) -> None:
    """Remove a registered prefix (audited); cases already held keep their department."""
    from .store.case_prefixes import remove_prefix

    def change(conn: Connection, now: datetime, by: str) -> tuple[None, dict[str, Any]]:
        remove_prefix(conn, department, prefix)
        return None, {"prefix": prefix, "reason": reason}

    _audited(options, actor, "department.prefix_remove", f"department:{department}", change)
    click.echo(f"removed prefix {prefix} of {department} / 已删除办件编号前缀")


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f}"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@departments.command("waits")
@_store_options
@_rules_option
@click.option("--department", help="Only this department (BMBM).")
@click.option(
    "--hours",
    type=click.IntRange(1, 24 * 366),
    help="Look back this many hours (default: the budget window, 24 h + the grace window).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@_speaks
def departments_waits(
    department: str | None, hours: int | None, rules_file: Any, as_json: bool, **options: Any
) -> None:
    """List each time a department's agent said it was behind, and the wait it was granted.

    While an agent sends its backlog, the engine holds its department's cards back, for at
    most the grace window ([clock] silence_grace_hours) in total within any 24 hours + grace:
    an agent cannot renew the wait by alternating "caught up" and "behind".

    \b
    Example:
      esup-collector departments waits --department 114307020000000001
    """
    from .engine.catching_up import budget_window, departments_catching_up, waited
    from .store.backlog import list_waits

    settings = _settings(**options)
    grace = _load_rules(rules_file, settings).clock.silence_grace_hours
    now = utc_now()
    window = budget_window(grace)
    since = now - (timedelta(hours=hours) if hours else window)
    engine = _engine(settings)
    try:
        with engine.connect() as conn:
            runs = list_waits(conn, since=since, department=department)
            open_since: dict[str, datetime] = {}
            for w in runs:
                if w.ended_at is None and w.agent_active:
                    open_since[w.department] = min(w.started_at, open_since.get(w.department, now))
            departments_seen = sorted({w.department for w in runs})
            used = waited(conn, departments_seen, open_since, now, grace)
            granted = departments_catching_up(conn, now, grace)
    finally:
        engine.dispose()
    if as_json:
        out = [
            {
                "department": d,
                "waited_hours_in_window": round(used[d].total_seconds() / 3600, 3),
                "grace_hours": grace,
                "window_hours": window.total_seconds() / 3600,
                "waiting_now": d in granted,
                "waiting_until": _iso(granted[d].until) if d in granted else None,
                "runs": [
                    {
                        "agent_id": w.agent_id,
                        "started_at": w.started_at.isoformat(),
                        "ended_at": w.ended_at.isoformat() if w.ended_at else None,
                        "agent_active": w.agent_active,
                    }
                    for w in runs
                    if w.department == d
                ],
            }
            for d in departments_seen
        ]
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if not runs:
        click.echo("没有采集端补传等待记录 / no agent was behind in this period")
    for d in departments_seen:
        until = granted[d].until if d in granted else None
        if until is not None:
            state = f"现正等待其补传，最迟至 {beijing_minute(until)}"
        elif d in open_since:
            state = "仍在补传，但等待额度已用完，办件照常评估"
        else:
            state = "当前未在补传"
        click.echo(
            f"{d}：近 {_hours(window)} 小时内补传等待累计 {_hours(used[d])} 小时"
            f"（上限 {grace} 小时）；{state}"
        )
        for w in runs:
            if w.department == d:
                end = (
                    beijing_minute(w.ended_at)
                    if w.ended_at
                    else ("仍在补传" if w.agent_active else "采集端已吊销")
                )
                took = (w.ended_at or now) - w.started_at
                start = beijing_minute(w.started_at)
                click.echo(f"  {start} 至 {end}（{_hours(took)} 小时）采集端 {w.agent_id}")


# -- case move -------------------------------------------------------------------------------
@case.command("move")
@_store_options
@_by_option
@_reason_option
@click.argument("sblsh")
@click.option("--to", "to", required=True, help="Department code (BMBM) the case goes to.")
@_speaks
def case_move(sblsh: str, to: str, reason: str, actor: str | None, **options: Any) -> None:
    """Move case SBLSH to another department (audited); the ingest never does this.

    From now on only the new department's agent can send the case's records, its current
    records count for that department, and the engine judges it again. Cards already issued
    stay where they were issued.

    \b
    Example:
      esup-collector case move 43070203012026000007 --to 114307020000000002 \\
          --reason "机构改革，事项划转住建局" --by 李监察员
    """
    from .store.case_owners import move_case

    def change(conn: Connection, now: datetime, by: str) -> tuple[str, dict[str, Any]]:
        before = move_case(conn, sblsh, to, now=now)
        return before, {"from": before, "to": to, "reason": reason}

    before = _audited(options, actor, "case.move", f"case:{sblsh}", change)
    click.echo(f"case {sblsh} moved from {before} to {to} / 办件已由 {before} 划转至 {to}")


# -- records ---------------------------------------------------------------------------------
@click.group()
def records() -> None:
    """Stored records: withdraw one, list what the ingest refused.

    \b
    Examples:
      esup-collector records withdraw 43070203012026000007 BJ --reason "他部门冒报" --by 李监察员
      esup-collector records refused --code foreign_case
    """


def _business_key(sblsh: str, record_type: str, key: str | None, keys: list[str]) -> str:
    fields = KEY_FIELDS[record_type]
    if len(fields) == 1:
        if key is not None:
            raise OperatorError(
                f"{record_type} 记录只由办件编号确定，不需要 --key",
                f"a {record_type} record is identified by its case number alone; drop --key",
            )
        return f"{record_type}|{sblsh}"
    if key is None:
        held = ", ".join(k.rsplit("|", 1)[-1] for k in keys) or "-"
        raise OperatorError(
            f"{record_type} 记录须用 --key 指明 {fields[1]}（现有：{held}）",
            f"a {record_type} record needs --key with its {fields[1]} (held: {held})",
        )
    return f"{record_type}|{sblsh}|{key}"


def _record_target(func: F) -> F:
    """SBLSH TYPE [--key] [--version]: which record of a case, and which of its versions."""
    func = click.option(
        "--version", "sjbbh", type=int, help="Only this data version (SJBBH); default all."
    )(func)
    func = click.option(
        "--key", help="Step or sequence number (SPBZH / XH) of a repeating record."
    )(func)
    func = click.argument("record_type", metavar="TYPE", type=click.Choice(CASE_TYPES))(func)
    return click.argument("sblsh")(func)


def _target_key(options: dict[str, Any], sblsh: str, record_type: str, key: str | None) -> str:
    from .store.withdrawals import keys_of_case

    keys = _reading(options, lambda conn: keys_of_case(conn, sblsh, record_type))
    return _business_key(sblsh, record_type, key, keys)


@records.command("withdraw")
@_store_options
@_rules_option
@_by_option
@_reason_option
@_record_target
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@_speaks
def records_withdraw(
    sblsh: str,
    record_type: str,
    key: str | None,
    sjbbh: int | None,
    reason: str,
    actor: str | None,
    rules_file: Any,
    as_json: bool,
    **options: Any,
) -> None:
    """Withdraw a stored record of case SBLSH so it no longer counts (audited).

    The record stays as evidence; the case is judged again without it. A card that would not
    have been issued without it is proposed for withdrawal: decide with
    `esup-collector verdicts reassess`. With --version only that data version is withdrawn
    and the highest one left counts again. The department resends a corrected record with a
    higher SJBBH.

    \b
    Examples:
      esup-collector records withdraw 43070203012026000007 BJ --reason "他部门冒报的办结"
      esup-collector records withdraw 43070203012026000007 SPCL --key 2 --reason "..."
    """
    from .engine.calendar_store import current_calendar
    from .engine.withdraw import withdraw_record

    settings = _settings(**options)
    rules = _load_rules(rules_file, settings)
    business_key = _target_key(options, sblsh, record_type, key)
    engine = _engine(settings)
    try:
        result = withdraw_record(
            engine,
            business_key,
            sjbbh=sjbbh,
            by=_actor(actor),
            reason=reason,
            calendar=current_calendar(engine),
            rules=rules,
        )
    finally:
        engine.dispose()
    done = result.withdrawal
    if as_json:
        outcome = {
            "business_key": done.business_key,
            "case_id": done.sblsh,
            "department": done.department,
            "withdrawn_sjbbh": list(done.withdrawn),
            "current_sjbbh": done.current,
            "case_has_records": done.case_left,
            "reassessment_proposals": result.proposals,
        }
        click.echo(json.dumps(outcome, ensure_ascii=False, indent=2))
        return
    versions = ", ".join(str(v) for v in done.withdrawn)
    click.echo(f"已撤回 {sblsh} 的 {record_type} 记录（数据版本 {versions}）")
    if done.current is not None:
        click.echo(f"  现以数据版本 {done.current} 为准")
    click.echo(
        f"  办件将重新评估；提出复核建议 {result.proposals} 条（esup-collector verdicts reassess）"
    )
    click.echo(
        f"withdrew {record_type} of {sblsh} (SJBBH {versions}); "
        f"{result.proposals} reassessment proposals"
    )


@records.command("restore")
@_store_options
@_by_option
@_reason_option
@_record_target
@_speaks
def records_restore(
    sblsh: str,
    record_type: str,
    key: str | None,
    sjbbh: int | None,
    reason: str,
    actor: str | None,
    **options: Any,
) -> None:
    """Undo the withdrawal of a record of case SBLSH (audited); it counts again.

    The case is judged again at the next sweep; reassessment proposals already made stay
    for the supervisor to decide.

    \b
    Example:
      esup-collector records restore 43070203012026000007 BJ --reason "核实为本部门真实办结"
    """
    from .engine.withdraw import restore_record

    business_key = _target_key(options, sblsh, record_type, key)
    engine = _engine(_settings(**options))
    try:
        done = restore_record(engine, business_key, sjbbh=sjbbh, by=_actor(actor), reason=reason)
    finally:
        engine.dispose()
    versions = ", ".join(str(v) for v in done.withdrawn)
    click.echo(f"已恢复 {sblsh} 的 {record_type} 记录（数据版本 {versions}），办件将重新评估")
    click.echo(f"restored {record_type} of {sblsh} (SJBBH {versions}); now current: {done.current}")


@records.command("refused")
@_store_options
@click.option("--code", help="Only this reason code, e.g. foreign_case or version_conflict.")
@click.option("--department", help="Only records sent for this department.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with reason codes).")
@_speaks
def records_refused(
    code: str | None, department: str | None, limit: int, as_json: bool, **options: Any
) -> None:
    """List records the ingest refused, newest first, with the reasons (kept as evidence).

    `foreign_case` is a record one department sent for another department's case.

    \b
    Examples:
      esup-collector records refused --code foreign_case
      esup-collector records refused --department 114307020000000001 --json
    """
    from .store.refusals import refused_records

    rows = _reading(
        options, lambda conn: refused_records(conn, code=code, department=department, limit=limit)
    )
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("没有被拒收的记录 / no refused records")
    for r in rows:
        when = beijing_minute(r.received_at)
        what = f"{r.record_type or '?'} {r.sblsh or ''}".strip()
        click.echo(f"{when}  {r.department or '-'}  {what}  （来源 {r.source}，序号 {r.seq}）")
        for p in r.problems:
            click.echo(f"    {p.get('message_zh', '')}")


COMMANDS: tuple[click.Group, ...] = (departments, records)
