"""The sweep: evaluate cases in pages, store clocks and new verdicts, raise data silence.

Modes: ``full`` (every open case: time passing makes cases overdue), ``dirty`` (cases with a
record received since the last watermark: evaluation on ingest without touching the ingest
code), or an explicit list of cases. One sweep at a time across processes
(:mod:`collector.engine.lock`); a sweep that finds the lock taken returns ``ran=False``.
A change of calendar or rules version since the last sweep triggers reassessment proposals.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from sqlalchemy import Connection, Engine, select

from collector.clock import SHANGHAI, WorkCalendar
from collector.engine import calendar_store, exemptions, reassess, reconcile, rules_store
from collector.engine.cases import (
    Catalogue,
    clear_marks,
    dirty_cases,
    load_cases,
    load_catalogue,
    marked_cases,
    open_case_page,
)
from collector.engine.catching_up import CatchingUp, departments_catching_up
from collector.engine.errors import SweepWorkerDied
from collector.engine.lock import Held, sweep_lock
from collector.engine.page_eval import PageInputs, PageOutcome, evaluate_page
from collector.engine.page_workers import PageWorkers, WorkerDied
from collector.engine.rejected_refusals import rejected_refusals
from collector.engine.rules_file import EngineRules, load_rules
from collector.engine.silence import Silence, silent_departments
from collector.engine.verdict_store import (
    StoredVerdict,
    existing,
    save_clocks,
    store_new,
    to_issue,
)
from collector.engine.verdicts import Candidate, CaseInput
from collector.store.dirty_marks import mark_cases
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
    deferred: int = 0  # cases put off because their department's agent is still catching up
    waiting_for: dict[str, CatchingUp] = field(default_factory=dict)
    #: cases that raised while being judged: each got the ``unevaluable`` anomaly instead
    unevaluable: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.ran:
            return "another sweep is running; skipped / 另一个评估正在运行，已跳过"
        kinds = ", ".join(f"{k} {self.new[k]}" for k in ("warning", "yellow", "red", "anomaly"))
        text = (
            f"{self.mode} sweep: {self.cases} cases evaluated; new verdicts: {kinds}; "
            f"reassessment proposals: {self.proposals} "
            f"(calendar v{self.calendar_version}, rules {self.rule_version})"
        )
        if self.waiting_for:
            waiting = ", ".join(
                f"{c.department} (records still to send: {c.records}"
                f"{', reading its database' if c.capturing else ''}; behind since "
                f"{c.since.isoformat(timespec='seconds')})"
                for c in self.waiting_for.values()
            )
            text += (
                f"; waiting for departments whose agent is still sending its backlog / "
                f"以下部门的采集端仍在补传，其办件暂缓评估: {waiting}"
            )
        if self.deferred:
            text += f"; {self.deferred} cases put off / {self.deferred} 个办件暂缓"
        if self.unevaluable:
            shown = ", ".join(self.unevaluable[:10])
            more = f" (+{len(self.unevaluable) - 10})" if len(self.unevaluable) > 10 else ""
            text += (
                f"; {len(self.unevaluable)} cases could not be evaluated and got the anomaly "
                f"'unevaluable' (see esup-collector case show) / {len(self.unevaluable)} 个办件"
                f"无法评估,已生成“无法评估”异常: {shown}{more}"
            )
        return text


def _state(conn: Connection, key: str) -> str | None:
    return conn.execute(select(engine_state.c.value).where(engine_state.c.key == key)).scalar()


def _set_state(conn: Connection, key: str, value: str) -> None:
    statement = insert_on_conflict(conn, engine_state).values(key=key, value=value)
    conn.execute(
        statement.on_conflict_do_update(index_elements=[engine_state.c.key], set_={"value": value})
    )


def default_workers() -> int:
    """Worker processes for a sweep of more than one page: one per core, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


@dataclass
class _Page:
    cases: list[CaseInput]
    stored: dict[str, list[StoredVerdict]]
    deferred: dict[str, str]  # case number -> department, put off for now
    waiting_for: dict[str, CatchingUp]


def _load_page(engine: Engine, ids: list[str], catalogue: Catalogue, inputs: PageInputs) -> _Page:
    with engine.connect() as conn:
        cases = load_cases(conn, ids, catalogue)
        # Read after the records: a batch whose records were read above committed its
        # "more to come" with them, so it is seen here (the pre-filters are only a saving).
        behind = departments_catching_up(conn, inputs.at, inputs.rules.clock.silence_grace_hours)
        deferred = {c.sblsh: c.department for c in cases if c.department in behind}
        cases = [c for c in cases if c.sblsh not in deferred]
        waiting = {d: behind[d] for d in set(deferred.values())}
        return _Page(cases, existing(conn, [c.sblsh for c in cases]), deferred, waiting)


def _put_off(engine: Engine, page: _Page, result: SweepResult) -> None:
    """Mark the cases of departments still catching up, so the first dirty sweep after their
    agent has caught up evaluates them with all their records."""
    if not page.deferred:
        return
    with engine.begin() as conn:
        mark_cases(conn, page.deferred, utc_now())
    result.deferred += len(page.deferred)
    result.waiting_for.update(page.waiting_for)


def _write_page(
    engine: Engine, outcome: PageOutcome, inputs: PageInputs, result: SweepResult
) -> None:
    # A record that arrives between the page's read and this write marks its case dirty
    # (ingest), so the dirty sweep evaluates it again; verdicts are unique per (case, rule,
    # level), so a repeated evaluation never issues twice.
    with engine.begin() as conn:
        save_clocks(conn, outcome.clock_rows)
        created = store_new(
            conn,
            outcome.pending,
            issued_at=inputs.at,
            calendar_version=int(inputs.calendar.version),
            rule_version=inputs.rules.version,
        )
    result.cases += outcome.cases
    result.unevaluable += outcome.unevaluable
    result.new.update(r["kind"] for r in created)


def _evaluate_pages(
    engine: Engine,
    pages: Iterator[list[str]],
    *,
    catalogue: Catalogue,
    inputs: PageInputs,
    result: SweepResult,
    held: Held,
    workers: int,
    progress: Callable[[int], None] | None,
) -> None:
    """Load, evaluate and write every page. A sweep of more than one page evaluates in worker
    processes (the clock is pure Python and one core is the limit) while this process loads
    the next pages and writes the finished ones, in order."""
    pool: PageWorkers | None = None

    def write(outcome: PageOutcome) -> None:
        _write_page(engine, outcome, inputs, result)
        held.renew()
        if progress is not None:
            progress(result.cases)

    try:
        for number, ids in enumerate(pages):
            page = _load_page(engine, ids, catalogue, inputs)
            _put_off(engine, page, result)
            if number == 0 or workers <= 1:
                write(evaluate_page(page.cases, page.stored, inputs))
                continue
            if pool is None:
                pool = PageWorkers(workers, inputs)
            if not pool.has_free:
                write(pool.result())
            pool.submit((page.cases, page.stored))
        while pool is not None and pool.busy:
            write(pool.result())
    except WorkerDied as exc:
        # Pages are written whole or not at all, so what was written stays valid and the
        # next sweep evaluates the rest (cases without a clock, or due, are picked again).
        raise SweepWorkerDied(
            f"评估进程意外退出（被终止或内存不足），已写入 {result.cases} 个办件的结果",
            f"a sweep worker process died (killed or out of memory) after {result.cases} "
            "cases were written; nothing of the unfinished pages was written",
            "run the sweep again (esup-collector rules run); if it keeps happening, lower "
            "engine_sweep_workers or give the machine more memory",
        ) from exc
    finally:
        if pool is not None:
            pool.close()


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
    workers: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> SweepResult:
    """Run one sweep (``mode`` full, dirty or cases); skipped when another one runs.

    ``workers``: processes evaluating pages when there is more than one (default: one per
    core, at most 4; 1 evaluates in this process). ``progress`` is called with the number of
    cases written after each page."""
    workers = default_workers() if workers is None else max(1, workers)
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
            behind = departments_catching_up(conn, at, rules.clock.silence_grace_hours)
            exempt = exemptions.valid_on(conn, today)
            watermark_text = _state(conn, _WATERMARK)
            basis = _state(conn, _BASIS)
        inputs = PageInputs(calendar, rules, at, silences, exempt)
        result.waiting_for.update(behind)
        evaluate_pages = partial(
            _evaluate_pages,
            engine,
            catalogue=catalogue,
            inputs=inputs,
            result=result,
            held=held,
            workers=workers,
            progress=progress,
        )
        if mode == "full":

            def open_pages() -> Iterator[list[str]]:
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
                            skip_departments=behind,
                        )
                    if not ids:
                        return
                    yield ids
                    after = ids[-1]

            evaluate_pages(open_pages())
            _silence_verdicts(engine, silences, calendar, rules, at, result)
            _rejected_refusal_verdicts(engine, calendar, rules, at, result)
        else:
            marks: dict[str, datetime] = {}
            if mode == "dirty":
                since = datetime.fromisoformat(watermark_text) if watermark_text else None
                with engine.connect() as conn:
                    ids, newest = dirty_cases(conn, since)
                    # A catching-up department's marks stay for a sweep after it caught up.
                    marks = marked_cases(conn, skip_departments=behind)
                ids = sorted(set(ids) | set(marks))
            else:
                ids, newest = sorted(set(cases or ())), None
            chunks = (ids[start : start + page] for start in range(0, len(ids), page))
            evaluate_pages(chunks)
            if mode == "dirty":
                with engine.begin() as conn:
                    clear_marks(conn, marks)
                    if newest is not None:
                        _set_state(conn, _WATERMARK, newest.isoformat())
        result.new["anomaly"] += reconcile.judge(engine, calendar, rules, at)
        current_basis = f"{calendar.version}|{rules.version}"
        if basis != current_basis:
            if basis is not None:
                result.proposals = reassess.propose(engine, calendar, rules, catalogue)
            with engine.begin() as conn:
                _set_state(conn, _BASIS, current_basis)
        return result
