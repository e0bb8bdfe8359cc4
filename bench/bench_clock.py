"""Calls per second of the calendar and the case clock (pure functions; a script, not a test).

Run: .venv/bin/python bench/bench_clock.py
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta

from collector.clock import (
    SHANGHAI,
    ClockRules,
    ItemLimits,
    WorkCalendar,
    evaluate,
    seed_rows,
    seed_years,
)


def rate(name: str, fn: Callable[[int], object], calls: int) -> None:
    started = time.perf_counter()
    for i in range(calls):
        fn(i)
    elapsed = time.perf_counter() - started
    print(f"{name:<48} {calls / elapsed:>12,.0f} calls/s  ({calls} calls, {elapsed:.2f} s)")


def record(rtype: str, **fields: object) -> dict[str, object]:
    return {"type": rtype, "SBLSH": "B-1", "SJBBH": 1, **fields}


def main() -> None:
    started = time.perf_counter()
    calendar = WorkCalendar.from_rows(seed_rows(seed_years()))
    print(
        f"calendar {min(calendar.years)}-{max(calendar.years)} built in "
        f"{time.perf_counter() - started:.2f} s (seeding from chinese_calendar included)"
    )
    rows = calendar.rows()
    started = time.perf_counter()
    WorkCalendar.from_rows(rows, 1)
    print(f"calendar from {len(rows)} stored rows in {time.perf_counter() - started:.3f} s")

    rng = random.Random(7)
    inside = [
        (date(2010, 1, 1) + timedelta(days=rng.randrange(5800)), rng.randrange(1, 60))
        for _ in range(1000)
    ]
    beyond = [
        (date(2026, 11, 1) + timedelta(days=rng.randrange(200)), rng.randrange(1, 60))
        for _ in range(1000)
    ]
    rate(
        "add_workdays (covered years)",
        lambda i: calendar.add_workdays(*inside[i % 1000]),
        200_000,
    )
    rate(
        "add_workdays (into a year without data)",
        lambda i: calendar.add_workdays(*beyond[i % 1000]),
        200_000,
    )
    rate(
        "workdays_between (covered years)",
        lambda i: calendar.workdays_between(inside[i % 1000][0], inside[(i + 1) % 1000][0]),
        200_000,
    )

    rules = ClockRules()
    item = ItemLimits(legal=20, promised=10)
    at = datetime(2026, 10, 20, 12, tzinfo=SHANGHAI)
    simple = [
        record("SL", SLZTDM="1", SLSJ="2026-09-24T10:00:00+08:00", GDBLSX=5, GDBLSXDW="G"),
    ]
    busy = [
        *simple,
        record("SPCL", SPBZH=1, SPHJDM="1", SPSJ="2026-09-25T10:00:00+08:00"),
        record("BZGZ", XH=1, BZGZSJ="2026-09-28T10:00:00+08:00"),
        record("BZSL", XH=1, BZSJ="2026-09-30T10:00:00+08:00"),
        record("TBCXSQ", XH=1, TBCXZL="B", TBCXKSRQ="2026-10-08T09:00:00+08:00", TBCXSX=5),
        record("TBCXJG", XH=1, TBCXJSRQ="2026-10-13T09:00:00+08:00"),
        record("TBCXSQ", XH=2, TBCXZL="A", TBCXKSRQ="2026-10-14T09:00:00+08:00", TBCXSX=10),
        record("BJ", BJJGDM="6", BJSJ="2026-10-19T15:00:00+08:00"),
        {**simple[0], "SJBBH": 2},
    ]
    rate(
        "evaluate (SL only, running)", lambda i: evaluate(simple, item, calendar, rules, at), 5_000
    )
    rate(
        "evaluate (9 records: correction, B, A, BJ)",
        lambda i: evaluate(busy, item, calendar, rules, at),
        5_000,
    )


if __name__ == "__main__":
    main()
