"""The sweep: evaluate cases in pages, store clocks and new verdicts, raise data silence.

Modes: ``full`` (every open case: time passing makes cases overdue), ``dirty`` (cases with a
record received since the last watermark: evaluation on ingest without touching the ingest
code), or an explicit list of cases. One sweep at a time across processes
(:mod:`collector.engine.lock`); a sweep that finds the lock taken returns ``ran=False``.
A change of calendar or rules version since the last sweep triggers reassessment proposals.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from collector.clock import SHANGHAI, CaseClock, WorkCalendar, evaluate
from collector.engine import calendar_store, exemptions, reassess, rules_store
from collector.engine.cases import (
    Catalogue,
    clear_marks,
    dirty_cases,
    load_cases,
    load_catalogue,
    marked_cases,
    open_case_page,
)
from collector.engine.lock import sweep_lock
from collector.engine.rejected_refusals import rejected_refusals
from collector.engine.rules_file import EngineRules, load_rules
from collector.engine.silence import Silence, silent_departments
from collector.engine.verdict_store import (
    existing,
    save_clocks,
    store_new,
    to_issue,
    yellow_issued_on,
)
from collector.engine.verdicts import Candidate, CaseContext, CaseInput, evaluate_case
from collector.engine.verdicts.evaluate import due_basis
from collector.engine.verdicts.recheck import recheck_on
from collector.store.tables import engine_state
from collector.store.timestamps import utc_now
from collector.store.upsert import insert_on_conflict

PAGE = 2000
_WATERMARK = "dirty_watermark"
_BASIS = "last_basis"


@dataclass
class SweepResult:
    ran: bool
    mode: str = ""
    cases: int = 0
    new: Counter[str] = field(default_factory=Counter)
    proposals: int = 0
    calendar_version: int = 0
    rule_version: str = ""

    def summary(self) -> str:
        if not self.ran:
            return "another sweep is running; skipped / 另一个评估正在运行，已跳过"
        kinds = ", ".join(f"{k} {self.new[k]}" for k in ("warning", "yellow", "red", "anomaly"))
        return (
            f"{self.mode} sweep: {self.cases} cases evaluated; new verdicts: {kinds}; "
            f"reassessment proposals: {self.proposals} "
            f"(calendar v{self.calendar_version}, rules {self.rule_version})"
        )


def _state(conn: Connection, key: str) -> str | None:
    return conn.execute(select(engine_state.c.value).where(engine_state.c.key == key)).scalar()


def _set_state(conn: Connection, key: str, value: str) -> None:
    statement = insert_on_conflict(conn, engine_state).values(key=key, value=value)
    conn.execute(
        statement.on_conflict_do_update(index_elements=[engine_state.c.key], set_={"value": value})
    )


def clock_of(
    case: CaseInput,
    catalogue: Catalogue | None,
    calendar: WorkCalendar,
    rules: EngineRules,
    at: datetime,
) -> CaseClock:
    from collector.clock import ItemLimits

    limits = ItemLimits.from_sx(case.item) if case.item is not None else None
    return evaluate([r.body for r in case.records], limits, calendar, rules.clock, at)


def _evaluate_page(
    engine: Engine,
    sblshs: list[str],
    *,
    catalogue: Catalogue,
    calendar: WorkCalendar,
    rules: EngineRules,
    at: datetime,
    silences: dict[str, Silence],
    exempt: dict[str, frozenset[str]],
    result: SweepResult,
) -> None:
    with engine.begin() as conn:
        cases = load_cases(conn, sblshs, catalogue)
        stored = existing(conn, [c.sblsh for c in cases])
        pending: list[tuple[str, str, Candidate, dict[str, object]]] = []
        clocks: list[tuple[str, CaseClock, date | None]] = []
        today = at.astimezone(SHANGHAI).date()
        for case in cases:
            clock = clock_of(case, catalogue, calendar, rules, at)
            prior = stored.get(case.sblsh, [])
            silence = silences.get(case.department)
            context = CaseContext(
                yellow_issued_on=yellow_issued_on(prior),
                silent_since=silence.since if silence else None,
                exempt=exempt.get(case.sblsh, frozenset()),
            )
            due = due_basis(clock)
            found = evaluate_case(case, clock, calendar, rules, at, context)
            for candidate in to_issue(found, prior):
                pending.append((case.sblsh, case.department, candidate, due))
            clocks.append(
                (case.department, clock, recheck_on(clock, rules, calendar, context, today))
            )
        result.cases += len(cases)
        save_clocks(conn, clocks, at)
        created = store_new(
            conn,
            pending,
            issued_at=at,
            calendar_version=int(calendar.version),
            rule_version=rules.version,
        )
        result.new.update(r["kind"] for r in created)


def _silence_verdicts(
    engine: Engine,
    silences: dict[str, Silence],
    calendar: WorkCalendar,
    rules: EngineRules,
    at: datetime,
    result: SweepResult,
) -> None:
    if not silences:
        return
    pending: list[tuple[str, str, Candidate, dict[str, object]]] = []
    for silence in silences.values():
        stamp = silence.last_seen.strftime("%Y%m%dT%H%M%SZ")
        candidate = Candidate(
            "anomaly",
            "data_silence",
            f"data_silence:{silence.department}:{stamp}",
            "anomaly",
            {
                "last_seen": silence.last_seen.isoformat(),
                "silent_since": silence.since.isoformat(),
                "grace_hours": rules.clock.silence_grace_hours,
            },
        )
        pending.append(("", silence.department, candidate, {}))
    with engine.begin() as conn:
        created = store_new(
            conn,
            pending,
            issued_at=at,
            calendar_version=int(calendar.version),
            rule_version=rules.version,
        )
    result.new.update(r["kind"] for r in created)


def _rejected_refusal_verdicts(
    engine: Engine, calendar: WorkCalendar, rules: EngineRules, at: datetime, result: SweepResult
) -> None:
    with engine.begin() as conn:
        found = [f for f in rejected_refusals(conn) if f[0] not in exempt_all(conn, at, f[0])]
        stored = existing(conn, [sblsh for sblsh, _, _ in found])
        pending: list[tuple[str, str, Candidate, dict[str, object]]] = [
            (sblsh, department, c, {})
            for sblsh, department, candidate in found
            for c in to_issue([candidate], stored.get(sblsh, []))
        ]
        created = store_new(
            conn,
            pending,
            issued_at=at,
            calendar_version=int(calendar.version),
            rule_version=rules.version,
        )
    result.new.update(r["kind"] for r in created)


def exempt_all(conn: Connection, at: datetime, sblsh: str) -> frozenset[str]:
    """Case numbers exempted from refusal_without_reason (or from everything) at ``at``."""
    rules = exemptions.valid_on(conn, at.astimezone(SHANGHAI).date()).get(sblsh, frozenset())
    return frozenset({sblsh}) if rules & {"*", "anomaly", "refusal_without_reason"} else frozenset()


def run_sweep(
    engine: Engine,
    *,
    mode: str = "full",
    at: datetime | None = None,
    rules: EngineRules | None = None,
    rules_path: Path | None = None,
    cases: Iterable[str] | None = None,
    page: int = PAGE,
) -> SweepResult:
    """Run one sweep (``mode`` full, dirty or cases); skipped when another one runs."""
    # UTC before it reaches the store: SQLite keeps the wall-clock digits and drops the offset.
    at = (at or utc_now()).astimezone(UTC)
    rules = rules or load_rules(rules_path)
    with sweep_lock(engine) as held:
        if not held:
            return SweepResult(ran=False, mode=mode)
        rules_store.activate(engine, rules)
        calendar = calendar_store.current_calendar(engine)
        result = SweepResult(
            ran=True,
            mode=mode,
            calendar_version=int(calendar.version),
            rule_version=rules.version,
        )
        today = at.astimezone(SHANGHAI).date()
        with engine.connect() as conn:
            catalogue = load_catalogue(conn)
            silences = silent_departments(conn, at, rules.silence_after_hours)
            exempt = exemptions.valid_on(conn, today)
            watermark_text = _state(conn, _WATERMARK)
            basis = _state(conn, _BASIS)
        kwargs = {
            "catalogue": catalogue,
            "calendar": calendar,
            "rules": rules,
            "at": at,
            "silences": silences,
            "exempt": exempt,
            "result": result,
        }
        if mode == "full":
            after = ""
            while True:
                with engine.connect() as conn:
                    ids = open_case_page(
                        conn,
                        after,
                        page,
                        today=today,
                        calendar_version=int(calendar.version),
                        rule_version=rules.version,
                    )
                if not ids:
                    break
                _evaluate_page(engine, ids, **kwargs)  # type: ignore[arg-type]
                held.renew()
                after = ids[-1]
            _silence_verdicts(engine, silences, calendar, rules, at, result)
            _rejected_refusal_verdicts(engine, calendar, rules, at, result)
        else:
            marks: dict[str, datetime] = {}
            if mode == "dirty":
                since = datetime.fromisoformat(watermark_text) if watermark_text else None
                with engine.connect() as conn:
                    ids, newest = dirty_cases(conn, since)
                    marks = marked_cases(conn)
                ids = sorted(set(ids) | set(marks))
            else:
                ids, newest = sorted(set(cases or ())), None
            for start in range(0, len(ids), page):
                _evaluate_page(engine, ids[start : start + page], **kwargs)  # type: ignore[arg-type]
                held.renew()
            if mode == "dirty":
                with engine.begin() as conn:
                    clear_marks(conn, marks)
                    if newest is not None:
                        _set_state(conn, _WATERMARK, newest.isoformat())
        current_basis = f"{calendar.version}|{rules.version}"
        if basis != current_basis:
            if basis is not None:
                result.proposals = reassess.propose(engine, calendar, rules, catalogue)
            with engine.begin() as conn:
                _set_state(conn, _BASIS, current_basis)
        return result
