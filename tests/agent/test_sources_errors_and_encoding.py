"""Legacy encodings arrive as intact Chinese text; driver errors become SourceError with a fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.errors import ConfigError, SourceError
from agent.sources import OdbcSource, SourceSettings, TableSettings
from installer.legacy_demo_db import connect, sqlite_odbc

BUREAU = "常德市市场监督管理局"


def read_all(settings: SourceSettings, table: TableSettings) -> list[dict[str, Any]]:
    with OdbcSource(settings) as src:
        return [row for chunk in src.read(table, None) for row in chunk.rows]


@pytest.mark.parametrize(
    ("charset", "encoding", "extra"),
    [
        ("gbk", "gbk", ""),
        ("gbk", "gb18030", ""),  # GB18030 holds GBK: either fits a GBK database
        ("utf8mb4", None, ""),
        ("gbk", "gbk", "CHARSET=gbk;"),  # a connection kept in GBK end to end
    ],
)
def test_chinese_text_on_mariadb_arrives_intact(
    mariadb_database: Any, charset: str, encoding: str | None, extra: str
) -> None:
    conn = connect(mariadb_database.odbc)
    try:
        conn.execute(
            "CREATE TABLE T_SQ_SLXX (ID INT PRIMARY KEY, BMMC VARCHAR(50), SQRMC VARCHAR(20), "
            f"MJ VARCHAR(10)) CHARACTER SET {charset}"
        )
        conn.execute("INSERT INTO T_SQ_SLXX VALUES (1, ?, ?, ?)", BUREAU, "张三", "秘密")
        conn.execute("INSERT INTO T_SQ_SLXX VALUES (2, ?, ?, ?)", "/", "李四", "")
        stored = conn.execute("SELECT HEX(BMMC) FROM T_SQ_SLXX WHERE ID = 1").fetchone()[0]
    finally:
        conn.close()
    assert bytes.fromhex(stored) == BUREAU.encode("gbk" if charset == "gbk" else "utf-8")
    settings = SourceSettings(
        name="gbk", connection=mariadb_database.odbc + extra, encoding=encoding
    )
    table = TableSettings(record_type="SL", table="T_SQ_SLXX", mode="key", key_column="ID")
    rows = read_all(settings, table)
    # '秘密' is the value Connector/ODBC's wide path cut to '秘': the secret-level filter
    # depends on it arriving whole.
    assert rows == [
        {"ID": 1, "BMMC": BUREAU, "SQRMC": "张三", "MJ": "秘密"},
        {"ID": 2, "BMMC": "/", "SQRMC": "李四", "MJ": ""},
    ]


def gbk_table(odbc: str, charset: str) -> None:
    conn = connect(odbc)
    try:
        conn.execute(
            "CREATE TABLE T_SQ_SLXX (ID INT PRIMARY KEY, SQRMC VARCHAR(20), MJ VARCHAR(10)) "
            f"CHARACTER SET {charset}"
        )
        conn.execute("INSERT INTO T_SQ_SLXX VALUES (1, ?, ?)", "张三", "秘密")
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("charset", "encoding", "extra", "fix"),
    [
        ("gbk", None, "", 'set encoding = "gbk"'),  # the docs said leave it unset here
        ("gbk", None, "CHARSET=gbk;", 'set encoding = "gbk"'),
        ("utf8mb4", "gbk", "", "leave encoding out"),
        ("gbk", "big5", "CHARSET=gbk;", 'set encoding = "gbk"'),  # the setting was ignored
    ],
)
def test_an_encoding_that_disagrees_with_the_mariadb_table_stops_with_the_setting_to_change(
    mariadb_database: Any, charset: str, encoding: str | None, extra: str, fix: str
) -> None:
    gbk_table(mariadb_database.odbc, charset)
    settings = SourceSettings(
        name="xzsp", connection=mariadb_database.odbc + extra, encoding=encoding
    )
    table = TableSettings(record_type="SL", table="T_SQ_SLXX", mode="key", key_column="ID")
    for read in (lambda s: list(s.read(table, None)), lambda s: s.sample(table, 5)):
        with OdbcSource(settings) as src, pytest.raises(SourceError) as caught:
            read(src)
        message = str(caught.value)
        assert "source 'xzsp', table T_SQ_SLXX, column SQRMC" in message
        assert f"keeps this text in {charset}" in message and fix in message
        assert "[[sources]] table named 'xzsp'" in message and "encoding 设置" in message


def test_a_single_byte_encoding_that_decodes_anything_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        SourceSettings.from_dict({"name": "x", "connection": "DSN=x", "encoding": "latin-1"}, "s")
    assert "decodes any byte" in str(caught.value) and "'gbk'" in str(caught.value)


def test_sqlite_keeps_utf8_so_another_encoding_is_refused(tmp_path: Path) -> None:
    odbc = sqlite_odbc(tmp_path / "x.db")
    conn = connect(odbc)
    try:
        conn.execute("CREATE TABLE T (ID INTEGER PRIMARY KEY, MJ TEXT)")
        conn.execute("INSERT INTO T VALUES (1, '秘密')")  # read as GBK: '绉樺瘑', not secret
    finally:
        conn.close()
    with pytest.raises(SourceError) as caught:
        OdbcSource(SourceSettings(name="xzsp", connection=odbc, encoding="gbk")).open()
    assert "source 'xzsp', every table" in str(caught.value)
    assert "leave encoding out" in str(caught.value)
    table = TableSettings(record_type="SL", table="T", mode="key", key_column="ID")
    assert read_all(SourceSettings(name="xzsp", connection=odbc), table) == [
        {"ID": 1, "MJ": "秘密"}
    ]


def test_gbk_bytes_from_an_ansi_driver_are_decoded_with_the_source_encoding(
    pg_database: Any,
) -> None:
    conn = connect(pg_database.odbc)
    try:
        conn.execute("CREATE TABLE t_sq_slxx (id INT PRIMARY KEY, bmmc VARCHAR(50))")
        conn.execute("INSERT INTO t_sq_slxx VALUES (1, ?)", BUREAU)
    finally:
        conn.close()
    # The ANSI driver with a GBK client encoding hands over raw GBK bytes, like an old system.
    ansi = (
        pg_database.odbc.replace("PostgreSQL Unicode", "PostgreSQL ANSI")
        + "ConnSettings=SET client_encoding TO 'GBK';"
    )
    table = TableSettings(record_type="SL", table="t_sq_slxx", mode="key", key_column="id")
    rows = read_all(SourceSettings(name="gbk", connection=ansi, encoding="gbk"), table)
    assert rows == [{"id": 1, "bmmc": BUREAU}]
    # Without the setting, or with another, the agent stops before reading a row.
    for wrong in (None, "utf-8", "big5"):
        with pytest.raises(SourceError) as caught:
            read_all(SourceSettings(name="gbk", connection=ansi, encoding=wrong), table)
        assert "keeps this text in GBK" in str(caught.value)
        assert 'set encoding = "gbk"' in str(caught.value)


def test_text_that_does_not_decode_names_the_column(pg_database: Any) -> None:
    # GB18030 bytes of a character GBK lacks, read with encoding = "gbk" (which the check
    # accepts: GBK is GB18030's older part): strict decoding stops, naming the column.
    conn = connect(pg_database.odbc)
    try:
        conn.execute("CREATE TABLE t (id INT PRIMARY KEY, bmmc VARCHAR(50), sqrmc VARCHAR(9))")
        conn.execute("INSERT INTO t VALUES (1, ?, ?)", BUREAU, "张三")
        conn.execute("INSERT INTO t VALUES (2, ?, ?)", BUREAU, "王\U00020000")
    finally:
        conn.close()
    ansi = (
        pg_database.odbc.replace("PostgreSQL Unicode", "PostgreSQL ANSI")
        + "ConnSettings=SET client_encoding TO 'GB18030';"
    )
    table = TableSettings(record_type="SL", table="t", mode="key", key_column="id")
    with pytest.raises(SourceError) as caught:
        read_all(SourceSettings(name="gbk", connection=ansi, encoding="gbk"), table)
    message = str(caught.value)
    assert "source 'gbk', table t, column sqrmc: the text is not gbk" in message
    assert 'e.g. "gbk" or "gb18030"' in message
    rows = read_all(SourceSettings(name="gbk", connection=ansi, encoding="gb18030"), table)
    assert rows[1]["sqrmc"] == "王\U00020000"


def test_a_wrong_driver_name_points_at_odbcinst_ini(tmp_path: Path) -> None:
    settings = SourceSettings(
        name="qyxx", connection=f"Driver={{SQLite 9}};Database={tmp_path / 'x.db'}"
    )
    with pytest.raises(SourceError) as caught:
        OdbcSource(settings).open()
    message = str(caught.value)
    assert "'qyxx'" in message
    assert "driver" in message.lower() and "/etc/odbcinst.ini" in message
    assert "驱动" in message


def test_a_missing_table_names_the_config_to_fix(tmp_path: Path) -> None:
    settings = SourceSettings(name="qyxx", connection=sqlite_odbc(tmp_path / "x.db"))
    table = TableSettings(record_type="SL", table="T_SQ_SLXX", timestamp_column="XGSJ")
    with OdbcSource(settings) as src, pytest.raises(SourceError) as caught:
        list(src.read(table, None))
    message = str(caught.value)
    assert "table was not found" in message and "找不到数据表" in message
    assert "T_SQ_SLXX" in message and "tables" in message


def test_a_missing_column_names_the_setting_to_fix(mariadb_database: Any) -> None:
    conn = connect(mariadb_database.odbc)
    try:
        conn.execute("CREATE TABLE T_SQ_SLXX (ID INT PRIMARY KEY, XGSJ DATETIME)")
    finally:
        conn.close()
    settings = SourceSettings(name="qyxx", connection=mariadb_database.odbc)
    table = TableSettings(record_type="SL", table="T_SQ_SLXX", timestamp_column="GXSJ")
    with OdbcSource(settings) as src, pytest.raises(SourceError) as caught:
        list(src.read(table, None))
    message = str(caught.value)
    assert "column was not found" in message and "timestamp_column" in message


def test_an_unreachable_server_says_so_without_showing_the_password(
    mariadb_database: Any,
) -> None:
    connection = mariadb_database.odbc.replace("Port=3306", "Port=1").replace(
        "Pwd=;", "Pwd=s3cret;"
    )
    with pytest.raises(SourceError) as caught:
        OdbcSource(SourceSettings(name="qyxx", connection=connection)).open()
    message = str(caught.value)
    assert "cannot connect" in message and "无法连接" in message
    assert "s3cret" not in message and "Pwd=***" in message


def test_a_text_timestamp_column_is_refused_with_the_way_out(pg_database: Any) -> None:
    conn = connect(pg_database.odbc)
    try:
        conn.execute("CREATE TABLE t_sp_bjxx (id INT PRIMARY KEY, bjsj VARCHAR(14))")
        conn.execute("INSERT INTO t_sp_bjxx VALUES (1, '20260924100000')")
    finally:
        conn.close()
    settings = SourceSettings(name="qyxx", connection=pg_database.odbc)
    as_text = TableSettings(record_type="BJ", table="t_sp_bjxx", timestamp_column="bjsj")
    with OdbcSource(settings) as src:
        with pytest.raises(SourceError) as caught:
            list(src.read(as_text, None))
        assert "not a date/time column" in str(caught.value)
        assert "query" in str(caught.value)
        # The way out the message gives: convert the text in a query.
        converted = TableSettings(
            record_type="BJ",
            query="SELECT t.*, TO_TIMESTAMP(t.bjsj, 'YYYYMMDDHH24MISS')::timestamp AS bjsj_ts "
            "FROM t_sp_bjxx t",
            timestamp_column="bjsj_ts",
        )
        [chunk] = list(src.read(converted, None))
    assert chunk.cursor == {"ts": "2026-09-24T10:00:00+08:00", "key": 1}
