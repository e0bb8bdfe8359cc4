"""What differs between the database systems a legacy source may run on.

Decided from the driver's SQL_DBMS_NAME once connected: how to ask the database for its
time, how to quote names, whether results must be read in pages, and the connection
options a driver needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import connection_string


@dataclass(frozen=True)
class Dialect:
    """What differs between database systems, decided from SQL_DBMS_NAME."""

    name: str  # "sqlite" | "postgresql" | "mariadb" | "sqlserver" | "other"
    quote: str
    now_sql: str
    now_is_epoch: bool  # now_sql returns seconds since 1970 (else a naive local time)
    paged: bool = False  # the driver buffers whole results: read in LIMIT pages

    @property
    def row_values(self) -> bool:
        # "(ts, key) > (?, ?)" walks an index on (ts, key) in order on these; MariaDB does
        # not use an index for row comparisons, so it keeps the OR form.
        return self.name in ("sqlite", "postgresql")

    @property
    def text_times(self) -> bool:
        # SQLite stores times as text: compare normalised 'YYYY-MM-DD HH:MM:SS' strings.
        return self.name == "sqlite"


def dialect_for(dbms: str, quote: str) -> Dialect:
    lowered = dbms.lower()
    quote = quote.strip()
    # "Now" as epoch seconds, so a server or session time zone other than the source's
    # cannot shift the upper bound.
    if "sqlite" in lowered:
        return Dialect(
            "sqlite", quote, "SELECT (julianday('now') - 2440587.5) * 86400.0", True, paged=True
        )
    if "postgres" in lowered:
        return Dialect("postgresql", quote, "SELECT EXTRACT(EPOCH FROM CURRENT_TIMESTAMP)", True)
    if "mariadb" in lowered or "mysql" in lowered:
        return Dialect("mariadb", quote or "`", "SELECT UNIX_TIMESTAMP(NOW(6))", True, paged=True)
    if "sql server" in lowered:
        return Dialect(
            "sqlserver",
            quote,
            "SELECT DATEDIFF_BIG(millisecond, '1970-01-01', SYSUTCDATETIME()) / 1000.0",
            True,
        )
    if "oracle" in lowered:
        return Dialect("other", quote, "SELECT LOCALTIMESTAMP FROM DUAL", False)
    return Dialect("other", quote, "SELECT CURRENT_TIMESTAMP", False)


def driver_options(dialect: str, connection: str, fetch_size: int) -> str:
    """Connection options a driver needs here, unless the connection string sets them:
    PostgreSQL's server-side cursor instead of buffering whole results, MariaDB's text in
    utf8mb4. (MariaDB's own streaming, NO_CACHE, needs Connector/ODBC 3.1.17 and blocks
    other statements meanwhile: its reads are paged instead.)"""
    present = connection_string.keys(connection)
    if dialect == "postgresql" and "usedeclarefetch" not in present:
        return f"UseDeclareFetch=1;Fetch={fetch_size}"
    if dialect == "mariadb" and "charset" not in present:
        return "CHARSET=utf8mb4"
    return ""
