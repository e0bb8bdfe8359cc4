"""Driver errors in words department IT can act on: what failed and how to fix it."""

from __future__ import annotations

import pyodbc

from . import connection_string


def explain(exc: pyodbc.Error) -> tuple[str, str]:
    """(what failed, how to fix it) for a pyodbc error, from its SQLSTATE and text."""
    state = str(exc.args[0]) if exc.args else ""
    text = str(exc.args[-1]) if exc.args else str(exc)
    low = text.lower()
    if state == "IM002" or "data source name not found" in low or "can't open lib" in low:
        return (
            "the ODBC driver or DSN was not found / 找不到 ODBC 驱动或数据源(DSN)",
            "check the Driver={...} name against the drivers listed in /etc/odbcinst.ini "
            "(odbcinst -q -d), or the DSN against /etc/odbc.ini / "
            "请核对连接串中的驱动名称是否与 /etc/odbcinst.ini 中列出的一致",
        )
    if state in ("42S02", "42P01") or "no such table" in low or "doesn't exist" in low:
        return (
            "a table was not found / 找不到数据表",
            "check the table name (and schema) under [[sources.tables]] in the agent config / "
            "请核对配置中 tables 的表名(及模式名)",
        )
    if state in ("42S22", "42703") or "no such column" in low or "unknown column" in low:
        return (
            "a column was not found / 找不到数据列",
            "check timestamp_column and key_column in the agent config against the table "
            "(names are case-sensitive when quoted) / 请核对配置中的 timestamp_column、"
            "key_column 列名(区分大小写)",
        )
    if state in ("42883", "22007", "22008") or "operator does not exist" in low:
        return (
            "the timestamp column is not a date/time column / timestamp_column 不是日期时间类型",
            "when the change time is kept as text, read the table through a query that "
            "converts it (TO_TIMESTAMP, STR_TO_DATE, CONVERT) and name the converted column "
            "as timestamp_column; see docs/mapping.md / 时间以文本保存时,请用 query 转换后再"
            "作为 timestamp_column",
        )
    if state == "07006" or "unsupported type" in low:
        return (
            "the driver returned values it could not convert / 驱动返回了无法转换的数据",
            'if the database keeps text in GBK/GB18030, set encoding = "gbk" (or "gb18030") '
            "in the source's config / "
            "如数据库使用 GBK 或 GB18030 编码,请在数据源配置中设置 encoding",
        )
    if state.startswith("08") or state == "HYT00" or "connect" in low:
        return (
            "cannot connect to the database / 无法连接数据库",
            "check the server address, port, database name, user and password in the "
            "connection string, and that the database server is running / "
            "请检查连接串中的地址、端口、库名、用户名和密码,以及数据库服务是否运行",
        )
    if state.startswith("28"):
        return (
            "the database refused the login / 数据库拒绝登录",
            "check the user and password in the connection string / 请检查用户名和密码",
        )
    return (
        "the database reported an error / 数据库返回错误",
        "check the connection string and the table settings in the agent config / "
        "请检查连接串和表配置",
    )


def redact(connection: str) -> str:
    """The connection string without its password, for messages and logs."""
    return connection_string.redact(connection)
