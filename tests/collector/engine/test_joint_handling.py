"""Joint handling through the engine, on SQLite and PostgreSQL: the stored SX catalogue record's
LHBL decides the extension cap (15 working days for "1", 10 otherwise). Accepted Tue 1 Sep
2026 with a promise of 10 working days and an extension of 15 working days asked on 8 Sep:
the capped promised deadline is Tue 29 Sep, the joint one Mon 12 Oct (中秋节 25-27 Sep, 国庆节
1-7 Oct, adjusted working days Sun 20 Sep and Sat 10 Oct)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine, select

from collector.engine.sweep import run_sweep
from collector.store.tables import case_clocks
from tests.collector.engine.conftest import kinds_of
from tests.collector.engine.records import at, sl, store, sx, tbcxsq

CASE = "430700SCJ20260901001"


def sweep_case(engine: Engine, lhbl: str | None) -> tuple[set[tuple[str, str]], object]:
    item = sx(fdsx=20, cnsx=10) if lhbl is None else sx(fdsx=20, cnsx=10, LHBL=lhbl)
    store(
        engine,
        [
            item,
            sl(CASE, "2026-09-01T10:00:00+08:00", gdblsx=10),
            tbcxsq(CASE, 1, "A", "2026-09-08T10:00:00+08:00", 15),
        ],
    )
    run_sweep(engine, at=at("2026-09-30 10:00"))
    with engine.connect() as conn:
        row = conn.execute(select(case_clocks).where(case_clocks.c.sblsh == CASE)).one()
    return kinds_of(engine, CASE), row


def test_a_joint_item_is_granted_15_days_and_not_flagged(engine: Engine) -> None:
    kinds, row = sweep_case(engine, "1")
    assert ("anomaly", "extension_over_cap") not in kinds
    assert ("yellow", "") not in kinds  # 30 Sep is inside the extended promise
    assert row.promised_deadline == date(2026, 10, 12)
    assert row.legal_deadline == date(2026, 10, 26)
    assert row.clock["extension_workdays_granted"] == 15
    assert row.clock["extension_workdays_over_cap"] == 0


@pytest.mark.parametrize("lhbl", ["0", None], ids=["LHBL-0", "LHBL-absent"])
def test_an_ordinary_item_is_granted_10_days_and_flagged(engine: Engine, lhbl: str | None) -> None:
    kinds, row = sweep_case(engine, lhbl)
    assert ("anomaly", "extension_over_cap") in kinds
    assert ("yellow", "") in kinds  # the capped deadline, 29 Sep, has passed
    assert row.promised_deadline == date(2026, 9, 29)
    assert row.legal_deadline == date(2026, 10, 19)
    assert row.clock["extension_workdays_granted"] == 10
    assert row.clock["extension_workdays_over_cap"] == 5
