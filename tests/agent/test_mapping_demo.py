"""The demo legacy schema read over ODBC and mapped with the shipped demo mapping."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from agent.mapping import Mapping
from agent.sources import OdbcSource, SourceSettings, TableSettings
from exchange_spec.validate import validate_record
from installer.legacy_demo_db import (
    BJ_QUERY,
    connect,
    create_legacy_schema,
    create_legacy_sqlite,
    demo_applications,
    fill_legacy,
)

DEMO = Path(__file__).parents[2] / "agent" / "mapping" / "examples" / "legacy_demo.toml"
TABLES = (
    TableSettings("SB", table="T_SQ_SLXX", timestamp_column="XGSJ", key_column="ID"),
    TableSettings("SL", table="T_SQ_SLXX", timestamp_column="XGSJ", key_column="ID"),
    TableSettings("BJ", query=BJ_QUERY, timestamp_column="XGSJ", key_column="ID"),
)


@pytest.fixture(params=["sqlite", "mariadb-gbk"])
def legacy(request: pytest.FixtureRequest, tmp_path: Path) -> SourceSettings:
    """Settings of a demo legacy database: UTF-8 SQLite, or MariaDB tables in GBK."""
    if request.param == "sqlite":
        odbc = create_legacy_sqlite(tmp_path / "legacy.db", n=30)
        return SourceSettings(name="demo", connection=odbc, fetch_size=7)
    odbc: str = request.getfixturevalue("mariadb_database").odbc
    conn = connect(odbc)
    try:
        create_legacy_schema(conn, "mariadb", charset="gbk")
        fill_legacy(conn, demo_applications(30))
    finally:
        conn.close()
    return SourceSettings(name="demo", connection=odbc, encoding="gbk", fetch_size=7)


def test_the_demo_system_maps_to_valid_records_with_secrets_and_personal_data_kept_home(
    legacy: SourceSettings,
) -> None:
    mapping = Mapping.load(DEMO, hmac_key=b"demo key")
    settings = legacy
    outcomes: Counter[tuple[str, str]] = Counter()
    records: list[dict[str, Any]] = []
    raw_personal: set[str] = set()
    with OdbcSource(settings) as src:
        for table in TABLES:
            for chunk in src.read(table, None):
                for row in chunk.rows:
                    raw_personal.update(str(row[c]) for c in ("SQRZJHM", "LXDH") if row.get(c))
                    result = mapping.map_row(table.record_type, row)
                    outcomes[(table.record_type, result.status)] += 1
                    assert result.status != "invalid", result.problems
                    if result.record is not None:
                        records.append(result.record)
    # 30 applications, every tenth secret-level; completions for four in five, none secret.
    assert outcomes == {
        ("SB", "ok"): 27,
        ("SB", "excluded"): 3,
        ("SL", "ok"): 27,
        ("SL", "excluded"): 3,
        ("BJ", "ok"): 24,
    }
    assert all(validate_record(r) == [] for r in records)
    text = json.dumps(records, ensure_ascii=False)
    assert raw_personal and not any(value in text for value in raw_personal)
    sb = next(r for r in records if r["type"] == "SB" and r["YWLSH"] == "SL2026000001")
    assert sb["SBLSH"] == "43070203012026000001"
    assert sb["SQRZJHM"] == "430702********001X" and sb["LXRSJ"] == "138****0001"
    assert sb["SQRMC"] == "李四" and sb["SXMC"] == "个体工商户设立登记"  # Chinese intact
    sl = next(r for r in records if r["type"] == "SL" and r["YWLSH"] == "SL2026000007")
    assert (sl["SLZTDM"], sl["BSLYY"]) == ("2", "材料不全")
    bj = next(r for r in records if r["type"] == "BJ" and r["YWLSH"] == "SL2026000002")
    assert bj["BJSJ"] == "2026-09-04T12:34:00+08:00" and bj["SFJE"] == 120.5
    assert {r["SBLSH"] for r in records if r["type"] == "BJ"} <= {r["SBLSH"] for r in records}
