from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import pytest

from agent import rowjson


def test_legacy_row_types_survive_the_quarantine_round_trip() -> None:
    row = {
        "ID": 7,
        "NAME": "张三",
        "AT": datetime(2026, 11, 30, 8, 0, 1, 250000),
        "AT_TZ": datetime(2026, 11, 30, 8, 0, tzinfo=timezone(timedelta(hours=8))),
        "DAY": date(2026, 11, 30),
        "CLOCK": time(8, 30),
        "FEE": Decimal("120.50"),
        "BLOB": b"\x00\xff",
        "GUID": uuid4(),
        "NOTHING": None,
        "FLAG": True,
    }
    back = rowjson.loads(rowjson.dumps(row))
    assert back == row
    assert type(back["FEE"]) is Decimal and type(back["AT"]) is datetime


def test_a_type_it_cannot_keep_is_refused_not_mangled() -> None:
    with pytest.raises(TypeError, match="cannot store a object"):
        rowjson.dumps({"x": object()})
