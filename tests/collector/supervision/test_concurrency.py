"""Two collector processes opening matters at once (threads with their own connections):
every matter gets a distinct number with no gap, and a verdict seen by both opens one matter."""

from __future__ import annotations

import threading

from sqlalchemy import Engine

from collector.clock import WorkCalendar
from collector.supervision import list_matters, open_matters_for

from .helpers import verdict


def test_concurrent_openings_number_without_duplicates(
    engine: Engine, calendar: WorkCalendar
) -> None:
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        try:
            start.wait()
            for i in range(15):
                with engine.begin() as conn:
                    # Verdicts 0..14 are shared by both workers; each also has its own.
                    open_matters_for(
                        conn,
                        [verdict(i, case_id=f"S{i}"), verdict(100 * offset + i, case_id=f"O{i}")],
                        calendar=calendar,
                    )
        except BaseException as exc:  # reported below, with the thread's error
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.connect() as conn:
        matters = list_matters(conn)
    assert len(matters) == 45
    assert len({m.verdict_id for m in matters}) == 45
    assert sorted(m.number for m in matters) == [f"督〔2026〕第{n:04d}号" for n in range(1, 46)]
