"""One case for people and JSON: its clock at a time, its timeline and its verdicts.

``verdicts`` lists the stored verdicts issued up to ``at`` (with withdrawn/superseded flags)
followed by the ones due at ``at`` that the store does not hold yet (``stored: false``), so
``case show --at`` a future date shows what the sweep would issue then.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from collector.clock import SHANGHAI, CaseClock
from collector.engine import calendar_store, exemptions
from collector.engine.cases import load_cases, load_catalogue
from collector.engine.catching_up import departments_catching_up
from collector.engine.errors import NotFound
from collector.engine.rules_file import EngineRules
from collector.engine.silence import silent_departments
from collector.engine.verdict_store import base_rule, existing, yellow_issued_on
from collector.engine.verdict_view import list_verdicts, verdict_words
from collector.engine.verdicts import CaseContext, evaluate_case
from collector.engine.verdicts.unevaluable import unevaluable
from collector.store.tables import records_current
from collector.store.timestamps import as_utc


def case_view(engine: Engine, sblsh: str, rules: EngineRules, at: datetime) -> dict[str, Any]:
    from collector.engine.page_eval import clock_of

    calendar = calendar_store.current_calendar(engine)
    with engine.connect() as conn:
        catalogue = load_catalogue(conn)
        found = load_cases(conn, [sblsh], catalogue)
        if not found:
            raise NotFound(
                f"存储中没有申办流水号为 {sblsh} 的办件",
                f"the store holds no records of case {sblsh}",
                "check the SBLSH, or whether the department's agent has sent it yet "
                "(esup-collector agents list)",
            )
        case = found[0]
        stored = existing(conn, [sblsh]).get(sblsh, [])
        silence = silent_departments(conn, at, rules.silence_after_hours).get(case.department)
        behind = departments_catching_up(conn, at, rules.clock.silence_grace_hours).get(
            case.department
        )
        exempt = exemptions.valid_on(conn, at.astimezone(SHANGHAI).date()).get(sblsh, frozenset())
        event_times = dict(
            conn.execute(
                select(records_current.c.business_key, records_current.c.event_time).where(
                    records_current.c.sblsh == sblsh
                )
            ).all()
        )
    context = CaseContext(
        yellow_issued_on=yellow_issued_on([v for v in stored if v.issued_at <= at]),
        silent_since=silence.since if silence else None,
        exempt=exempt,
    )
    try:
        clock = clock_of(case, calendar, rules, at)
        due = evaluate_case(case, clock, calendar, rules, at, context)
        problem = None
    except Exception as exc:  # noqa: BLE001 - an unevaluable case is shown, not raised
        candidate = unevaluable(case, exc)
        clock = CaseClock(
            sblsh, at, "unevaluable", calendar_version=calendar.version, rule_version=rules.version
        )
        due, problem = [candidate], candidate.details
    every = list_verdicts(engine, case=sblsh)
    listed = [v for v in every if datetime.fromisoformat(v["issued_at"]) <= at]
    have = {(base_rule(v["rule"]), v["level"]) for v in every if not v["withdrawn"]}
    for candidate in due:
        if candidate.key not in have:
            listed.append(
                {
                    "kind": candidate.kind,
                    "code": candidate.code,
                    "rule": candidate.rule,
                    "level": candidate.level,
                    "details": candidate.details,
                    "stored": False,
                }
            )
    timeline = sorted(
        (
            {
                "type": r.body.get("type"),
                "key": _sub(r.body),
                "SJBBH": r.body.get("SJBBH", 1),
                "event_time": _event(event_times, r.body),
                "received_at": (as_utc(r.received_at) or r.received_at).isoformat(),
            }
            for r in case.records
        ),
        key=lambda e: (e["event_time"] or "", e["received_at"]),
    )
    view = clock.as_dict()
    view.update(
        {
            "case_id": sblsh,
            # Not None: the engine cannot evaluate the case (reason_zh/en, error, where).
            "unevaluable": problem,
            "department": case.department,
            "calendar_version": int(calendar.version),
            "timeline": timeline,
            "verdicts": listed,
            # Not None: the sweep does not judge this case until the agent has caught up.
            "waiting_for_backlog": (
                {"since": behind.since.isoformat(), "records": behind.records}
                if behind is not None
                else None
            ),
        }
    )
    return view


def _sub(body: Any) -> str:
    sub = body.get("XH", body.get("SPBZH"))
    return "" if sub is None else str(sub)


def _event(event_times: dict[str, str | None], body: Any) -> str | None:
    from exchange_spec import business_key

    return event_times.get(business_key(body))


def render_text(view: dict[str, Any]) -> str:
    """The case for a person: timeline, then the clock, then verdicts."""
    lines = [f"case {view['case_id']} ({view['department']})", "", "timeline (event / received):"]
    for entry in view["timeline"]:
        sub = f"#{entry['key']}" if entry["key"] else ""
        lines.append(
            f"  {entry['event_time'] or '-':<26} {entry['received_at']:<32} "
            f"{entry['type']}{sub} v{entry['SJBBH']}"
        )
    problem = view.get("unevaluable")
    if problem:
        lines += [
            "",
            f"clock at {view['evaluated_at']}: 无法评估 / cannot be evaluated",
            f"  {problem['reason_zh']}",
            f"  {problem['reason_en']}",
            "  (technical detail: case show --json / 技术细节见 --json)",
        ]
    else:
        lines += _clock_lines(view)
    lines += ["", "verdicts:"]
    waiting = view.get("waiting_for_backlog")
    if waiting:
        lines.append(
            f"  (the department's agent is still sending its backlog: {waiting['records']} "
            f"records to come, since {waiting['since']}; verdicts below marked due are not "
            "issued until it has caught up / 该部门采集端仍在补传，判定暂缓)"
        )
    if not view["verdicts"]:
        lines.append("  none")
    for v in view["verdicts"]:
        flags = []
        if v.get("stored") is False:
            flags.append("due, not stored yet")
        if v.get("withdrawn"):
            flags.append("withdrawn")
        if v.get("superseded"):
            flags.append("superseded by red")
        code = f" {v['code']}" if v["code"] else ""
        issued = f" issued {v['issued_at']}" if v.get("issued_at") else ""
        note = f" [{', '.join(flags)}]" if flags else ""
        lines.append(f"  {v['kind']}{code} ({v['rule']}){issued}{note}")
        words = verdict_words(v)
        if words:
            lines.append(f"    {words}")
    lines.append("")
    lines.append("how to read the clock: docs/clock.md")
    return "\n".join(lines)


def _clock_lines(view: dict[str, Any]) -> list[str]:
    provisional = " (provisional: a year without calendar data)" if view["provisional"] else ""
    lines = [
        "",
        f"clock at {view['evaluated_at']}: {view['state']}{provisional}",
        f"  accepted on        {view['accepted_on'] or '-'}",
        f"  promised deadline  {view['promised_deadline'] or '-'}",
        f"  legal deadline     {view['legal_deadline'] or '-'}",
        f"  warning on         {view['warning_on'] or '-'}",
        f"  working days used  {view['workdays_used']} "
        f"(suspended {view['suspended_workdays']}, left {view['days_left']})",
        f"  calendar v{view['calendar_version']}, rules {view['rule_version']}",
    ]
    for fact in view["facts"]:
        lines.append(f"  fact: {fact['code']}: {fact['detail']}")
    return lines
