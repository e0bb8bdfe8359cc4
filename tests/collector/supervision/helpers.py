"""Verdict rows shaped like collector.engine.events sends them, and one real case imported."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, update

from collector.importer import import_file
from collector.store.tables import departments

DEPARTMENT = "D1"
DEPARTMENT_NAME = "常德市市场监督管理局"
CASE = "143070020260901000001"
APPLICANT_ID = "430702199001011234"
APPLICANT_PHONE = "13800138000"
APPLICANT_NAME = "王小明"
ITEM_NAME = "食品经营许可"

# 2026-09-30 10:00 in Beijing: the day before the National Day holiday.
OPENED = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)


def verdict(
    verdict_id: int = 1,
    *,
    kind: str = "yellow",
    case_id: str = CASE,
    issued_at: datetime = OPENED,
    department: str = DEPARTMENT,
) -> dict[str, Any]:
    rule = {"yellow": "promised_limit", "red": "legal_limit"}.get(kind, "lead_time")
    return {
        "id": verdict_id,
        "case_id": case_id,
        "department": department,
        "kind": kind,
        "code": "",
        "rule": rule,
        "level": kind,
        "dedup_key": f"{case_id}|{rule}|{kind}",
        "issued_at": issued_at,
        "due": {
            "promised_deadline": "2026-09-15",
            "legal_deadline": "2026-09-29",
            "workdays_used": 22,
            "state": "overdue",
        },
        "calendar_version": 1,
        "rule_version": "rules-2026.1",
        "details": {"applicant": APPLICANT_NAME, "SQRZJHM": APPLICANT_ID},
    }


def import_case(engine: Engine, folder: Path) -> None:
    """The case's SB (with applicant data), SL and the item's SX, through the real importer."""
    base = {
        "spec": "1.0",
        "SBLSH": CASE,
        "SXBM": "000123",
        "BMBM": DEPARTMENT,
        "XZQHDM": "430700",
        "SJBBH": 1,
    }
    records = [
        {
            **base,
            "type": "SB",
            "SQRLX": "1",
            "SQRMC": APPLICANT_NAME,
            "SQRZJLX": "111",
            "SQRZJHM": APPLICANT_ID,
            "LXRXM": APPLICANT_NAME,
            "LXRSJ": APPLICANT_PHONE,
            "SBSJ": "2026-09-01T09:00:00+08:00",
        },
        {
            **base,
            "type": "SL",
            "SLZTDM": "1",
            "SLSJ": "2026-09-01T09:30:00+08:00",
            "GDBLSX": 10,
            "GDBLSXDW": "G",
        },
        {
            "spec": "1.0",
            "type": "SX",
            "SXBM": "000123",
            "SXMC": ITEM_NAME,
            "BMBM": DEPARTMENT,
            "XZQHDM": "430700",
            "SXLX": "1",
            "CNSX": 10,
            "CNSXDW": "G",
            "FDSX": 20,
            "FDSXDW": "G",
            "SJBBH": 1,
        },
    ]
    path = folder / "case.jsonl"
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    summary = import_file(engine, path, DEPARTMENT)
    assert summary.accepted == 3, summary
    with engine.begin() as conn:
        conn.execute(
            update(departments).where(departments.c.code == DEPARTMENT).values(name=DEPARTMENT_NAME)
        )
