"""Legacy approval tables, as the department systems have them, in SQLite/PG/MariaDB.

The demo's legacy database, shared by the demo, the agent's tests and the benchmarks:
``create_legacy_schema`` makes the GBK-era tables ``T_SQ_SLXX`` (applications and
acceptance) and ``T_SP_BJXX`` (completion) that ``agent/mapping/examples/legacy_demo.toml``
maps; ``demo_applications`` gives deterministic rows for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyodbc

SLXX_COLUMNS = (
    "ID", "SLBH", "LSH", "SXBM", "SXMC", "SQRLB", "SQRMC", "ZJLX", "SQRZJHM", "LXR", "LXDH",
    "SQRQ", "SLRQ", "ZT", "BSLYY", "BLR", "BLRGH", "GDBLSX", "SXDW", "MJ", "XGSJ",
)  # fmt: skip
BJXX_COLUMNS = ("ID", "SLBH", "JG", "JGSM", "BJSJ", "ZJBH", "SFJE", "XGSJ")

#: The query feeding BJ records: completion joined with its application (for SBLSH parts).
BJ_QUERY = (
    "SELECT b.ID, b.SLBH, b.JG, b.JGSM, b.BJSJ, b.ZJBH, b.SFJE, b.XGSJ, "
    "s.SQRQ, s.LSH, s.SXBM, s.MJ FROM T_SP_BJXX b JOIN T_SQ_SLXX s ON s.SLBH = b.SLBH"
)


def sqlite_odbc(path: Path | str) -> str:
    return f"Driver={{SQLite3}};Database={path}"


def connect(odbc: str) -> pyodbc.Connection:
    conn = pyodbc.connect(odbc, autocommit=True)
    if "mariadb" in odbc.lower():
        # MariaDB Connector/ODBC 3.1 intermittently fails ("Memory allocation error") on
        # several wide Chinese parameters in one statement; UTF-8 narrow ones are reliable.
        conn.setencoding(encoding="utf-8")
    return conn


def _types(kind: str) -> dict[str, str]:
    if kind == "sqlite":
        return {"ts": "DATETIME", "text": "TEXT", "int": "INTEGER"}
    if kind == "postgresql":
        return {"ts": "TIMESTAMP(0)", "text": "VARCHAR(200)", "int": "INTEGER"}
    return {"ts": "DATETIME", "text": "VARCHAR(200)", "int": "INT"}


def create_legacy_schema(conn: pyodbc.Connection, kind: str, charset: str | None = None) -> None:
    """Create T_SQ_SLXX and T_SP_BJXX. ``kind``: sqlite | postgresql | mariadb; ``charset``
    (MariaDB only), e.g. "gbk" for the tables of an old system."""
    t = _types(kind)
    tail = f" CHARACTER SET {charset}" if charset and kind == "mariadb" else ""
    slxx = ", ".join(
        f"{c} {t['int']} PRIMARY KEY"
        if c == "ID"
        else f"{c} {t['int']}"
        if c == "LSH"
        else f"{c} {t['ts']}"
        if c == "XGSJ"
        else f"{c} {t['text']}"
        for c in SLXX_COLUMNS
    )
    bjxx = ", ".join(
        f"{c} {t['int']} PRIMARY KEY"
        if c == "ID"
        else f"{c} {t['ts']}"
        if c == "XGSJ"
        else f"{c} {t['text']}"
        for c in BJXX_COLUMNS
    )
    conn.execute(f"CREATE TABLE T_SQ_SLXX ({slxx}){tail}")
    conn.execute(f"CREATE TABLE T_SP_BJXX ({bjxx}){tail}")


@dataclass(frozen=True)
class DemoRows:
    applications: list[tuple[Any, ...]]  # T_SQ_SLXX rows in SLXX_COLUMNS order
    completions: list[tuple[Any, ...]]  # T_SP_BJXX rows in BJXX_COLUMNS order


#: Items of the demo departments: market regulation (0) and housing and construction (1).
_ITEMS_BY_DEPARTMENT = (
    (
        ("430702-SCJG-001", "食品经营许可"),
        ("430702-SCJG-002", "个体工商户设立登记"),
        ("430702-SCJG-003", "药品零售企业许可"),
    ),
    (
        ("430702-ZJJ-001", "建筑工程施工许可"),
        ("430702-ZJJ-002", "商品房预售许可"),
        ("430702-ZJJ-003", "建筑业企业资质核准"),
    ),
)
_ITEMS = _ITEMS_BY_DEPARTMENT[0]
_NAMES = ("张三", "李四", "王五", "赵六", "钱七", "孙八")


def demo_applications(
    n: int, start: datetime | None = None, *, first: int = 1, department: int = 0
) -> DemoRows:
    """Applications ``first..n`` (one in ten secret-level, one in five not completed yet)
    with times in the legacy system's mixed text formats. ``start`` is the time of case 0;
    case i comes 37 minutes after case i-1."""
    start = start or datetime(2026, 9, 1, 9, 0)
    items = _ITEMS_BY_DEPARTMENT[department % len(_ITEMS_BY_DEPARTMENT)]
    apps: list[tuple[Any, ...]] = []
    done: list[tuple[Any, ...]] = []
    for i in range(first, n + 1):
        applied = start + timedelta(minutes=37 * i)
        accepted = applied + timedelta(minutes=20)
        code, name = items[i % len(items)]
        sqrq = applied.strftime("%Y/%m/%d %H:%M") if i % 3 else applied.strftime("%Y%m%d%H%M%S")
        slbh = f"SL{applied:%Y}{i:06d}"
        apps.append(
            (
                i, slbh, i, code, name, "GR" if i % 4 else "QY", _NAMES[i % len(_NAMES)],
                "01", f"430702{1970 + i % 30}0101{i % 1000:03d}X",
                _NAMES[(i + 1) % len(_NAMES)], f"138{i:08d}", sqrq,
                accepted.strftime("%Y-%m-%d %H:%M:%S"), "01" if i % 7 else "02",
                "无" if i % 7 else "材料不全", "刘办事", f"GH{i % 5:03d}", str(20 if i % 2 else 5),
                "工作日" if i % 2 else "/", "秘密" if i % 10 == 0 else "", accepted,
            )
        )  # fmt: skip
        if i % 5:
            finished = accepted + timedelta(days=3, hours=2)
            done.append(
                (
                    i, slbh, "00", "准予许可", finished.strftime("%Y%m%d%H%M%S"),
                    f"JY{i:08d}", "0" if i % 2 else "120.50", finished,
                )
            )  # fmt: skip
    return DemoRows(apps, done)


def insert_rows(
    conn: pyodbc.Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    cur = conn.cursor()
    for row in rows:
        cur.execute(sql, *row)


def fill_legacy(conn: pyodbc.Connection, rows: DemoRows) -> None:
    insert_rows(conn, "T_SQ_SLXX", SLXX_COLUMNS, rows.applications)
    insert_rows(conn, "T_SP_BJXX", BJXX_COLUMNS, rows.completions)


def create_legacy_sqlite(path: Path | str, n: int = 50, *, department: int = 0) -> str:
    """A demo legacy SQLite database with ``n`` applications; returns its ODBC string."""
    odbc = sqlite_odbc(path)
    conn = connect(odbc)
    try:
        create_legacy_schema(conn, "sqlite")
        fill_legacy(conn, demo_applications(n, department=department))
    finally:
        conn.close()
    return odbc


def add_live_case(path: Path | str, i: int, now: datetime, *, department: int = 0) -> None:
    """Case ``i`` as the clerks enter it now: applied and accepted a moment ago, and the
    completion of an earlier case, so the demo shows cases moving while it runs."""
    rows = demo_applications(
        i, now - timedelta(minutes=37 * i + 25), first=i, department=department
    )
    conn = connect(sqlite_odbc(path))
    try:
        insert_rows(conn, "T_SQ_SLXX", SLXX_COLUMNS, rows.applications)
        earlier = max(1, i - 20)
        conn.execute(
            "INSERT INTO T_SP_BJXX (ID, SLBH, JG, JGSM, BJSJ, ZJBH, SFJE, XGSJ) "
            "SELECT ID, SLBH, '00', '准予许可', ?, 'JY' || ID, '0', ? FROM T_SQ_SLXX "
            "WHERE ID = ? AND NOT EXISTS (SELECT 1 FROM T_SP_BJXX WHERE ID = ?)",
            now.strftime("%Y%m%d%H%M%S"),
            now.replace(microsecond=0),
            earlier,
            earlier,
        )
    finally:
        conn.close()
