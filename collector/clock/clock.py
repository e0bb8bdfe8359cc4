"""The case clock: a pure function of one case's records, the item's limits, the calendar,
the rules and the evaluation time. No I/O, no store, no verdicts: it says where the case
stands and lists the facts the verdict and anomaly rules need.

Rules (docs/clock.md explains them for the operator):

- Dates are Asia/Shanghai dates (UTC+08:00, no daylight saving since 1991): an aware time
  is converted to +08:00 before its date is taken.
- Day 1 is the first working day after the acceptance date (SLSJ). The deadline is the last
  day on which completion is on time. Natural-day (Z) limits end on acceptance date + N
  days, moved to the next working day when that is a rest day.
- Promised limit: the SL record's GDBLSX (what the department promised for this case), else
  the catalogue's CNSX, else the legal limit FDSX. Legal limit: the catalogue's FDSX only.
- A suspension (special procedure B from TBCXKSRQ to TBCXJSRQ; correction from BZGZSJ to
  BZSJ with the same XH) suspends the days d with start < d <= end, exactly like acceptance:
  the day the procedure starts still counts, the day it ends does not. A suspension of k
  working days therefore pushes a working-day deadline by exactly k working days. A
  suspension still open suspends up to the evaluation date. Overlapping suspensions count
  each day once. Days after the deadline already passed never move it (a late suspension
  cannot rescue an overdue case); such cases are reported as facts.
- Extensions (special procedure A) add their days to both limits, up to the cap of the rules
  (10 working days, 15 for joint handling); what is over the cap is reported, not granted.
- Completion (BJ, any result code) stops the clock on its date.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

from collector.clock.calendar import WorkCalendar
from collector.clock.errors import CaseRecordsError
from collector.clock.rules_config import ClockRules

#: China Standard Time; Asia/Shanghai has kept +08:00 all year since 1991.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

STATES = ("not_accepted", "running", "suspended", "overdue", "completed")
_UNITS = ("G", "Z")
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class ItemLimits:
    """Limits of an approval item from the catalogue (SX record)."""

    legal: int | None
    legal_unit: str = "G"
    promised: int | None = None
    promised_unit: str = "G"
    joint: bool = False  # joint handling (联合办理): the larger extension cap applies

    @classmethod
    def from_sx(cls, record: Mapping[str, Any]) -> ItemLimits:
        """Limits from an SX catalogue record (FDSX/FDSXDW, CNSX/CNSXDW; LHBL "1" marks a
        joint-handling item)."""
        return cls(
            legal=_opt_int(record.get("FDSX")),
            legal_unit=str(record.get("FDSXDW") or "G"),
            promised=_opt_int(record.get("CNSX")),
            promised_unit=str(record.get("CNSXDW") or "G"),
            joint=str(record.get("LHBL", "0")) == "1",
        )


@dataclass(frozen=True, slots=True)
class Limit:
    """A limit as applied to one case: days, unit, where it came from, extension added."""

    days: int
    unit: str
    source: str  # "SL.GDBLSX", "SX.CNSX" or "SX.FDSX"
    #: extension granted, in the limit's unit (natural days spanned, for a Z limit)
    extension_days: int = 0
    #: for a Z limit: the extension in working days, counted after the natural-day deadline
    extension_workdays: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "unit": self.unit,
            "source": self.source,
            "extension_days": self.extension_days,
        }


#: Every code a Fact can carry (docs/clock.md explains each; the anomaly rules match on them).
FACT_CODES = frozenset(
    {
        "no_acceptance",
        "completion_without_acceptance",
        "not_accepted",
        "completed_before_acceptance",
        "conflicting_versions",
        "legal_limit_unknown",
        "promised_from_legal",
        "promised_longer_than_legal",
        "no_limit",
        "unit_assumed_workdays",
        "second_correction_notice",
        "correction_without_notice",
        "procedure_end_without_start",
        "unknown_procedure_kind",
        "suspension_open",
        "suspension_not_closed",
        "suspension_starts_later",
        "suspension_end_before_start",
        "suspension_before_acceptance",
        "suspension_covers_case",
        "suspension_longer_than_declared",
        "procedure_after_completion",
        "extension_without_length",
        "extension_after_deadline",
        "extension_over_cap",
    }
)


@dataclass(frozen=True, slots=True)
class Fact:
    """Something the clock noticed; ``code`` is stable, the anomaly rules match on it."""

    code: str
    detail: str
    record: str | None = None  # the record it concerns, e.g. "TBCXSQ|2"

    def __post_init__(self) -> None:
        if self.code not in FACT_CODES:
            raise ValueError(f"unknown fact code {self.code!r}: add it to FACT_CODES and docs")

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, "record": self.record}


@dataclass(frozen=True, slots=True)
class Suspension:
    """One suspension of the clock, as applied (clipped to acceptance and stop dates)."""

    kind: str  # "special_procedure" (TBCXZL B) or "correction" (BZGZ -> BZSL)
    xh: str
    start: date
    end: date  # the last suspended date (the evaluation date when open)
    open: bool
    workdays: int  # working days in (start, end] inside the case

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "xh": self.xh,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "open": self.open,
            "workdays": self.workdays,
        }


@dataclass(frozen=True, slots=True)
class CaseClock:
    """Where one case stands at ``evaluated_at``."""

    sblsh: str | None
    evaluated_at: datetime
    state: str
    accepted_on: date | None = None
    promised_limit: Limit | None = None
    legal_limit: Limit | None = None
    promised_deadline: date | None = None
    legal_deadline: date | None = None
    warning_on: date | None = None  # rules.warning_lead_workdays before the promised deadline
    past_promised: bool = False
    past_legal: bool = False
    completed_on: date | None = None
    completion_code: str | None = None  # BJJGDM
    completed_late_promised: bool = False
    completed_late_legal: bool = False
    workdays_used: int = 0
    suspended_workdays: int = 0
    days_left: int | None = None
    provisional: bool = False
    calendar_version: str = ""
    rule_version: str = ""
    extension_workdays_requested: int = 0
    extension_workdays_granted: int = 0
    extension_workdays_over_cap: int = 0
    suspensions: tuple[Suspension, ...] = ()
    facts: tuple[Fact, ...] = field(default_factory=tuple)

    def fact_codes(self) -> frozenset[str]:
        return frozenset(f.code for f in self.facts)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ISO strings."""

        def iso(value: date | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "sblsh": self.sblsh,
            "evaluated_at": self.evaluated_at.isoformat(),
            "state": self.state,
            "accepted_on": iso(self.accepted_on),
            "promised_limit": self.promised_limit.as_dict() if self.promised_limit else None,
            "legal_limit": self.legal_limit.as_dict() if self.legal_limit else None,
            "promised_deadline": iso(self.promised_deadline),
            "legal_deadline": iso(self.legal_deadline),
            "warning_on": iso(self.warning_on),
            "past_promised": self.past_promised,
            "past_legal": self.past_legal,
            "completed_on": iso(self.completed_on),
            "completion_code": self.completion_code,
            "completed_late_promised": self.completed_late_promised,
            "completed_late_legal": self.completed_late_legal,
            "workdays_used": self.workdays_used,
            "suspended_workdays": self.suspended_workdays,
            "days_left": self.days_left,
            "provisional": self.provisional,
            "calendar_version": self.calendar_version,
            "rule_version": self.rule_version,
            "extension_workdays_requested": self.extension_workdays_requested,
            "extension_workdays_granted": self.extension_workdays_granted,
            "extension_workdays_over_cap": self.extension_workdays_over_cap,
            "suspensions": [s.as_dict() for s in self.suspensions],
            "facts": [f.as_dict() for f in self.facts],
        }


def _opt_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def local_date(value: Any, where: str) -> date:
    """The Asia/Shanghai date of an ISO 8601 time with offset."""
    if not isinstance(value, str):
        raise CaseRecordsError(
            f"{where} 缺少时间或不是文本：{value!r}",
            f"{where}: time missing or not text: {value!r}",
            "records must pass exchange_spec validation before the clock sees them",
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CaseRecordsError(
            f"{where} 不是 ISO 8601 时间：{value!r}",
            f"{where}: not an ISO 8601 time: {value!r}",
            "write e.g. 2026-09-24T10:00:00+08:00",
        ) from exc
    if moment.tzinfo is None:
        raise CaseRecordsError(
            f"{where} 的时间没有时区：{value!r}",
            f"{where}: time has no UTC offset: {value!r}",
            "add the offset, e.g. +08:00",
        )
    return moment.astimezone(SHANGHAI).date()


class _Case:
    """The latest version of each record of one case, grouped by type and XH."""

    def __init__(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.facts: list[Fact] = []
        grouped: dict[tuple[str, str], list[tuple[int, Mapping[str, Any]]]] = {}
        cases: set[str] = set()
        for record in records:
            rtype = str(record.get("type", ""))
            if "SBLSH" in record:
                cases.add(str(record["SBLSH"]))
            sub = record.get("XH", record.get("SPBZH", ""))
            key = (rtype, "" if sub is None else str(sub))
            version = record.get("SJBBH", 1)
            version = version if isinstance(version, int) and not isinstance(version, bool) else 1
            grouped.setdefault(key, []).append((version, record))
        latest: dict[tuple[str, str], Mapping[str, Any]] = {}
        conflicts: set[tuple[str, str]] = set()
        for key, versions in grouped.items():
            top = max(v for v, _ in versions)
            candidates = [r for v, r in versions if v == top]
            if len(candidates) == 1:
                latest[key] = candidates[0]
                continue
            # Equal versions: the larger canonical text wins, so the choice never depends on
            # the order records arrived in; differing content is reported.
            texts = {
                json.dumps(r, sort_keys=True, ensure_ascii=False, default=str): r
                for r in candidates
            }
            latest[key] = texts[max(texts)]
            if len(texts) > 1:
                conflicts.add(key)
        if len(cases) > 1:
            raise CaseRecordsError(
                f"一次只能计算一个办件的时钟，收到了 {len(cases)} 个申办流水号",
                f"the clock takes one case at a time, got {len(cases)} case numbers (SBLSH): "
                + ", ".join(sorted(cases)[:5]),
                "group the records by SBLSH before calling evaluate()",
            )
        self.sblsh = next(iter(cases)) if cases else None
        for rtype, sub in sorted(conflicts):
            self.facts.append(
                Fact(
                    "conflicting_versions",
                    f"two different {rtype} records carry the same SJBBH; the larger canonical "
                    "text was used",
                    f"{rtype}|{sub}" if sub else rtype,
                )
            )
        self.by_type: dict[str, dict[str, Mapping[str, Any]]] = {}
        for (rtype, sub), record in sorted(latest.items(), key=lambda kv: kv[0]):
            self.by_type.setdefault(rtype, {})[sub] = record

    def one(self, rtype: str) -> Mapping[str, Any] | None:
        group = self.by_type.get(rtype, {})
        return group.get("") if "" in group else next(iter(group.values()), None)

    def numbered(self, rtype: str) -> dict[str, Mapping[str, Any]]:
        return self.by_type.get(rtype, {})


class _Flags:
    """Collects the provisional flag of every calendar computation."""

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar
        self.provisional = False

    def add(self, start: date, n: int) -> date:
        result = self.calendar.add_workdays(start, n)
        self.provisional |= result.provisional
        return result.date

    def between(self, start: date, end: date) -> int:
        result = self.calendar.workdays_between(start, end)
        self.provisional |= result.provisional
        return result.count

    def next_workday(self, day: date) -> date:
        result = self.calendar.next_workday_on_or_after(day)
        self.provisional |= result.provisional
        return result.date

    def before(self, day: date, n: int) -> date:
        result = self.calendar.subtract_workdays(day, n)
        self.provisional |= result.provisional
        return result.date

    def touch(self, day: date) -> None:
        self.provisional |= not self.calendar.is_known(day)


def _unit(value: Any, where: str, facts: list[Fact], record: str) -> str:
    unit = str(value) if value is not None else ""
    if unit in _UNITS:
        return unit
    facts.append(
        Fact("unit_assumed_workdays", f"{where} unit {value!r} is not G or Z; G assumed", record)
    )
    return "G"


def evaluate(
    records: Sequence[Mapping[str, Any]],
    item: ItemLimits | None,
    calendar: WorkCalendar,
    rules: ClockRules,
    at: datetime,
) -> CaseClock:
    """The clock of one case (all its records, any order, any versions) at time ``at``."""
    if at.tzinfo is None:
        raise CaseRecordsError(
            "评估时间没有时区",
            f"the evaluation time has no UTC offset: {at.isoformat()}",
            "pass an aware datetime, e.g. datetime.now(timezone.utc)",
        )
    today = at.astimezone(SHANGHAI).date()
    case = _Case(records)
    facts = case.facts
    flags = _Flags(calendar)
    blank = CaseClock(
        sblsh=case.sblsh,
        evaluated_at=at,
        state="not_accepted",
        calendar_version=calendar.version,
        rule_version=rules.version,
    )

    sl = case.one("SL")
    bj = case.one("BJ")
    if sl is None:
        facts.append(Fact("no_acceptance", "the case has no acceptance (SL) record"))
        if bj is not None:
            facts.append(Fact("completion_without_acceptance", "BJ without SL (orphan)", "BJ"))
        return replace(blank, facts=tuple(facts))
    status = str(sl.get("SLZTDM", ""))
    if status != "1":
        facts.append(
            Fact("not_accepted", f"SLZTDM is {status!r}, not 1 (受理): no clock runs", "SL")
        )
        return replace(blank, facts=tuple(facts))

    accepted_on = local_date(sl.get("SLSJ"), "SL.SLSJ")
    flags.touch(accepted_on)
    completed_on = local_date(bj.get("BJSJ"), "BJ.BJSJ") if bj is not None else None
    stop_day = completed_on if completed_on is not None else today
    if completed_on is not None and completed_on < accepted_on:
        facts.append(Fact("completed_before_acceptance", "BJSJ is before SLSJ", "BJ"))

    promised, legal = _limits(sl, item, facts)
    suspensions, suspended = _suspensions(
        case, rules, accepted_on, stop_day, completed_on is not None, flags, facts
    )
    suspended_work = sorted(d for d in suspended if calendar.is_workday(d))
    suspended_all = sorted(suspended)

    def deadline(limit: Limit | None) -> date | None:
        if limit is None:
            return None
        n = limit.days + limit.extension_days
        if limit.unit == "G":
            current = flags.add(accepted_on, n)
            while True:
                moved = flags.add(accepted_on, n + bisect_right(suspended_work, current))
                if moved == current:
                    return current
                current = moved
        current = accepted_on + timedelta(days=n)
        while True:
            moved = accepted_on + timedelta(days=n + bisect_right(suspended_all, current))
            if moved == current:
                flags.touch(current)
                current = flags.next_workday(current)
                break
            current = moved
        if not limit.extension_workdays:
            return current
        # A working-day extension of a natural-day limit runs from that deadline, skipping
        # suspended working days after it. Converting it to natural days instead would make
        # the result depend on where the base deadline fell in the week, so a suspension
        # could pull a deadline earlier.
        base, extra = current, limit.extension_workdays
        current = flags.add(base, extra)
        while True:
            skipped = bisect_right(suspended_work, current) - bisect_right(suspended_work, base)
            moved = flags.add(base, extra + skipped)
            if moved == current:
                return current
            current = moved

    # Extensions are judged against the deadlines they extend, so compute those first.
    base_promised = deadline(promised)
    base_legal = deadline(legal)
    requested, granted, over = _extensions(
        case, item, rules, completed_on, base_legal or base_promised, base_promised, flags, facts
    )
    if granted:
        promised = _extended(promised, granted, base_promised)
        legal = _extended(legal, granted, base_legal)
    promised_deadline = deadline(promised) if granted else base_promised
    legal_deadline = deadline(legal) if granted else base_legal
    promised = _spanned(promised, base_promised, promised_deadline)
    legal = _spanned(legal, base_legal, legal_deadline)

    used_gross = flags.between(accepted_on, stop_day)
    suspended_count = bisect_right(suspended_work, stop_day)
    workdays_used = max(0, used_gross - suspended_count)

    past_promised = past_legal = late_promised = late_legal = False
    if completed_on is not None:
        late_promised = promised_deadline is not None and completed_on > promised_deadline
        late_legal = legal_deadline is not None and completed_on > legal_deadline
    else:
        past_promised = promised_deadline is not None and today > promised_deadline
        past_legal = legal_deadline is not None and today > legal_deadline

    days_left = None
    warning_on = None
    if promised_deadline is not None:
        # Never count from before acceptance (an evaluation time or BJ before SLSJ).
        count_from = max(stop_day, accepted_on)
        if count_from <= promised_deadline:
            ahead = flags.between(count_from, promised_deadline)
            days_left = ahead - (
                bisect_right(suspended_work, promised_deadline)
                - bisect_right(suspended_work, count_from)
            )
        else:
            days_left = -max(1, flags.between(promised_deadline, count_from))
        if rules.warning_lead_workdays:
            warning_on = flags.before(promised_deadline, rules.warning_lead_workdays)
        else:
            warning_on = promised_deadline
    else:
        facts.append(Fact("no_limit", "neither the case nor the catalogue gives a limit"))

    if completed_on is not None:
        state = "completed"
    elif past_promised:
        state = "overdue"
    elif any(s.open and s.start <= today for s in suspensions):
        state = "suspended"
    else:
        state = "running"

    return replace(
        blank,
        state=state,
        accepted_on=accepted_on,
        promised_limit=promised,
        legal_limit=legal,
        promised_deadline=promised_deadline,
        legal_deadline=legal_deadline,
        warning_on=warning_on,
        past_promised=past_promised,
        past_legal=past_legal,
        completed_on=completed_on,
        completion_code=str(bj.get("BJJGDM")) if bj is not None else None,
        completed_late_promised=late_promised,
        completed_late_legal=late_legal,
        workdays_used=workdays_used,
        suspended_workdays=suspended_count,
        days_left=days_left,
        provisional=flags.provisional,
        extension_workdays_requested=requested,
        extension_workdays_granted=granted,
        extension_workdays_over_cap=over,
        suspensions=tuple(suspensions),
        facts=tuple(facts),
    )


def _limits(
    sl: Mapping[str, Any], item: ItemLimits | None, facts: list[Fact]
) -> tuple[Limit | None, Limit | None]:
    """(promised, legal) limits of the case, by the precedence in the module docstring."""
    legal: Limit | None = None
    if item is not None and item.legal is not None and item.legal > 0:
        legal = Limit(item.legal, _unit(item.legal_unit, "SX.FDSXDW", facts, "SX"), "SX.FDSX")
    else:
        facts.append(Fact("legal_limit_unknown", "the catalogue gives no legal limit (FDSX)"))
    promised: Limit | None = None
    gdblsx = _opt_int(sl.get("GDBLSX"))
    if gdblsx is not None and gdblsx > 0:
        promised = Limit(gdblsx, _unit(sl.get("GDBLSXDW"), "SL.GDBLSXDW", facts, "SL"), "SL.GDBLSX")
    elif item is not None and item.promised is not None and item.promised > 0:
        unit = _unit(item.promised_unit, "SX.CNSXDW", facts, "SX")
        promised = Limit(item.promised, unit, "SX.CNSX")
    elif legal is not None:
        promised = Limit(legal.days, legal.unit, "SX.FDSX")
        facts.append(Fact("promised_from_legal", "no promised limit: the legal limit is used"))
    if (
        promised is not None
        and legal is not None
        and promised.unit == legal.unit
        and promised.days > legal.days
    ):
        facts.append(
            Fact(
                "promised_longer_than_legal",
                f"promised {promised.days}{promised.unit} ({promised.source}) is longer than "
                f"legal {legal.days}{legal.unit}",
                "SL" if promised.source == "SL.GDBLSX" else "SX",
            )
        )
    return promised, legal


def _suspensions(
    case: _Case,
    rules: ClockRules,
    accepted_on: date,
    stop_day: date,
    completed: bool,
    flags: _Flags,
    facts: list[Fact],
) -> tuple[list[Suspension], set[date]]:
    """The suspensions as applied, and the set of suspended dates (all, not only workdays)."""
    spans: list[tuple[str, str, date, date | None, Mapping[str, Any] | None]] = []
    starts = case.numbered("TBCXSQ")
    ends = case.numbered("TBCXJG")
    for xh, start_record in starts.items():
        kind = str(start_record.get("TBCXZL", ""))
        if kind == "B":
            end_record = ends.get(xh)
            end = (
                local_date(end_record.get("TBCXJSRQ"), f"TBCXJG|{xh}.TBCXJSRQ")
                if end_record is not None
                else None
            )
            start = local_date(start_record.get("TBCXKSRQ"), f"TBCXSQ|{xh}.TBCXKSRQ")
            spans.append(("special_procedure", xh, start, end, start_record))
        elif kind != "A":
            facts.append(
                Fact(
                    "unknown_procedure_kind", f"TBCXZL {kind!r} is neither A nor B", f"TBCXSQ|{xh}"
                )
            )
    for xh in ends:
        if xh not in starts:
            facts.append(
                Fact("procedure_end_without_start", "TBCXJG without TBCXSQ", f"TBCXJG|{xh}")
            )
    notices = case.numbered("BZGZ")
    receipts = case.numbered("BZSL")
    if len(notices) > 1:
        facts.append(
            Fact(
                "second_correction_notice",
                f"{len(notices)} correction notices (BZGZ); the law asks for one (Art. 32)",
                "BZGZ|" + sorted(notices, key=_xh_order)[1],
            )
        )
    for xh in receipts:
        if xh not in notices:
            facts.append(
                Fact(
                    "correction_without_notice", "BZSL without a BZGZ of the same XH", f"BZSL|{xh}"
                )
            )
    if rules.correction_suspends:
        for xh, notice in notices.items():
            receipt = receipts.get(xh)
            end = (
                local_date(receipt.get("BZSJ"), f"BZSL|{xh}.BZSJ") if receipt is not None else None
            )
            start = local_date(notice.get("BZGZSJ"), f"BZGZ|{xh}.BZGZSJ")
            spans.append(("correction", xh, start, end, None))

    applied: list[Suspension] = []
    suspended: set[date] = set()
    for kind, xh, start, end, declared_by in sorted(
        spans, key=lambda s: (s[2], s[0], _xh_order(s[1]))
    ):
        ref = f"TBCXSQ|{xh}" if kind == "special_procedure" else f"BZGZ|{xh}"
        is_open = end is None
        if start > stop_day:
            code = "procedure_after_completion" if completed else "suspension_starts_later"
            facts.append(Fact(code, f"{kind} {xh} starts after {stop_day}", ref))
        elif end is None:
            code = "suspension_not_closed" if completed else "suspension_open"
            facts.append(Fact(code, f"{kind} {xh} has no end record", ref))
        if end is None:
            end = stop_day
        if end < start:
            facts.append(
                Fact("suspension_end_before_start", f"{kind} {xh} ends before it starts", ref)
            )
            end = start
        if start < accepted_on:
            facts.append(
                Fact("suspension_before_acceptance", f"{kind} {xh} starts before SLSJ", ref)
            )
        first = max(start, accepted_on)
        last = max(first, min(end, stop_day))
        day = first + _ONE_DAY
        count = 0
        while day <= last:
            flags.touch(day)
            # Overlapping suspensions: a date is suspended once.
            if day not in suspended:
                suspended.add(day)
                count += flags.calendar.is_workday(day)
            day += _ONE_DAY
        if kind == "special_procedure" and start <= accepted_on and end >= stop_day:
            facts.append(
                Fact("suspension_covers_case", f"special procedure {xh} covers the whole case", ref)
            )
        if declared_by is not None:
            declared = _opt_int(declared_by.get("TBCXSX"))
            unit = str(declared_by.get("TBCXSXDW") or "G")
            length = flags.between(first, last) if unit == "G" else max(0, (last - first).days)
            if declared is not None and length > declared:
                facts.append(
                    Fact(
                        "suspension_longer_than_declared",
                        f"special procedure {xh} lasted {length}{unit}, declared {declared}{unit}",
                        ref,
                    )
                )
        applied.append(Suspension(kind, xh, first, last, is_open, count))
    return applied, suspended


def _xh_order(xh: str) -> tuple[int, str]:
    """Sort sequence numbers numerically when they are numbers."""
    return (int(xh), "") if xh.isdigit() else (1 << 30, xh)


def _extensions(
    case: _Case,
    item: ItemLimits | None,
    rules: ClockRules,
    completed_on: date | None,
    convert_from: date | None,
    base_promised: date | None,
    flags: _Flags,
    facts: list[Fact],
) -> tuple[int, int, int]:
    """(requested, granted, over the cap) extension working days of special procedures A.

    A natural-day extension is converted to the working days it spans after the unextended
    deadline (legal if known, else promised), so one cap in working days applies to all.
    """
    requested = 0
    for xh, record in sorted(case.numbered("TBCXSQ").items(), key=lambda kv: _xh_order(kv[0])):
        if str(record.get("TBCXZL", "")) != "A":
            continue
        ref = f"TBCXSQ|{xh}"
        days = _opt_int(record.get("TBCXSX"))
        if days is None or days <= 0:
            facts.append(Fact("extension_without_length", f"extension {xh} has no TBCXSX", ref))
            continue
        unit = _unit(record.get("TBCXSXDW"), f"TBCXSQ|{xh}.TBCXSXDW", facts, ref)
        if unit == "G" or convert_from is None:
            workdays = days
        else:
            workdays = flags.between(convert_from, convert_from + timedelta(days=days))
        requested += workdays
        start = local_date(record.get("TBCXKSRQ"), f"{ref}.TBCXKSRQ")
        if completed_on is not None and start > completed_on:
            facts.append(Fact("procedure_after_completion", f"extension {xh} after BJSJ", ref))
        elif base_promised is not None and start > base_promised:
            facts.append(
                Fact(
                    "extension_after_deadline",
                    f"extension {xh} started after the promised deadline {base_promised}",
                    ref,
                )
            )
    cap = rules.extension_cap(item.joint if item is not None else False)
    granted = min(requested, cap)
    over = requested - granted
    if over:
        facts.append(
            Fact(
                "extension_over_cap",
                f"extensions ask for {requested} working days, the cap is {cap}; {over} not "
                "granted",
            )
        )
    return requested, granted, over


def _extended(limit: Limit | None, granted: int, base: date | None) -> Limit | None:
    """The limit with ``granted`` extension working days (as natural days for a Z limit)."""
    if limit is None or base is None:
        return limit
    if limit.unit == "G":
        return replace(limit, extension_days=granted)
    return replace(limit, extension_workdays=granted)


def _spanned(limit: Limit | None, base: date | None, extended: date | None) -> Limit | None:
    """A Z limit's extension shown as the natural days it added to the deadline."""
    if limit is None or not limit.extension_workdays or base is None or extended is None:
        return limit
    return replace(limit, extension_days=(extended - base).days)
