"""Reading a legacy database over ODBC: incremental, streamed, with the database's own clock.

Three read modes (``TableSettings.mode``):

``timestamp``
    Rows ordered by (timestamp, key). A poll reads ``ts <= upper`` where ``upper`` is the
    *database's* now minus ``delay_seconds``, starting ``reread_seconds`` behind the saved
    cursor. The delay covers transactions that commit up to ``delay_seconds`` after the time
    they wrote; the re-read window catches those committing up to ``delay_seconds +
    reread_seconds`` late (re-read rows are deduplicated by content in the outbox). With
    ``reread_seconds = 0`` the classic resume predicate
    ``(ts = :cts AND key > :ckey) OR ts > :cts`` is used, so rows sharing one timestamp
    across a chunk boundary or a restart are all read either way.
``key``
    An increasing integer key: ``key > :ckey ORDER BY key``.
``snapshot``
    The whole table on every poll (small catalogue tables).

Chunks hold at most ``fetch_size`` rows (``fetchmany``). Memory stays flat: PostgreSQL reads
through a server-side cursor, MariaDB and SQLite (whose drivers buffer whole results) in
keyset pages. The cursor in each chunk is the position after its last row and is
JSON-serialisable (ISO 8601 times with the source's offset). ``pyodbc.Error`` becomes
``SourceError`` here, with a message saying what to fix.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

import pyodbc

from agent.errors import SourceError

from . import connection_string
from . import text_encoding as text
from .dialects import Dialect, dialect_for, driver_options
from .driver_errors import explain, redact
from .settings import SourceSettings, TableSettings

# Name of the extra column carrying the normalised timestamp on SQLite (stripped from rows).
_TS_ALIAS = "esup_cursor_ts__"
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S"
# Where results must be paged, one page holds this many chunks (one statement per page).
PAGE_CHUNKS = 10


@dataclass
class Chunk:
    """Up to ``fetch_size`` rows and the read position after the last of them."""

    rows: list[dict[str, Any]]  # column name -> value, as the driver returns them
    cursor: dict[str, Any]  # JSON-serialisable position after the chunk's last row


def _column_names(cur: pyodbc.Cursor) -> list[str]:
    # The SQLite ODBC driver reports the length of non-ASCII column names in bytes, so the
    # name arrives followed by a NUL and leftovers of its buffer; no real name holds a NUL.
    return [str(d[0]).split("\x00", 1)[0] for d in cur.description]


def _narrow_encoding(connection: str) -> str:
    """The Python codec of a MySQL-family connection's character set (CHARSET=...): the
    server converts every column to it, so it is what the bytes are in."""
    charset = (connection_string.value(connection, "charset") or "utf8mb4").strip().lower()
    if charset.startswith("utf8"):
        return "utf-8"
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return "utf-8"


#: SQL types of text pyodbc hands over as bytes when asked to (narrow, and wide).
_NARROW_TEXT = (pyodbc.SQL_CHAR, pyodbc.SQL_VARCHAR, pyodbc.SQL_LONGVARCHAR)
_WIDE_TEXT = (pyodbc.SQL_WCHAR, pyodbc.SQL_WVARCHAR, pyodbc.SQL_WLONGVARCHAR)


def _where(clauses: list[str]) -> str:
    return " WHERE " + " AND ".join(clauses) if clauses else ""


def _pick(by_name: dict[str, Any], column: str, source: str, label: str) -> Any:
    """A column's value from a result row; drivers may fold the case of names."""
    if column in by_name:
        return by_name[column]
    for name, value in by_name.items():
        if name.lower() == column.lower():
            return value
    raise SourceError(
        f"source {source!r}, table {label}: column {column!r} is not in the result; check "
        "timestamp_column/key_column in the agent config / 结果中没有该列,请核对配置中的 "
        "timestamp_column、key_column"
    )


class OdbcSource:
    """One legacy database. Use as a context manager or call ``open``/``close``."""

    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)
        self._conn: pyodbc.Connection | None = None
        self._dialect: Dialect | None = None
        self._checked: set[str] = set()  # tables whose character sets agree with encoding

    # -- connection -----------------------------------------------------------------------

    def _fail(self, exc: pyodbc.Error, doing: str) -> SourceError:
        what, fix = explain(exc)
        detail = str(exc.args[-1]) if exc.args else str(exc)
        return SourceError(
            f"source {self.settings.name!r}: {what} while {doing}. How to fix: {fix}. "
            f"(connection: {redact(self.settings.connection)}; driver said: {detail})"
        )

    def _undecodable(
        self, exc: UnicodeDecodeError, table: TableSettings, sql: str, params: list[Any]
    ) -> SourceError:
        column = self._undecodable_column(exc.encoding, sql, params)
        place = f"table {table.label}" + (f", column {column}" if column else "")
        return SourceError(
            f"source {self.settings.name!r}, {place}: the text is not {exc.encoding}, so it "
            "cannot be read without garbling it. How to fix: set encoding in the [[sources]] "
            f"table named {self.settings.name!r} to the character set the database keeps its "
            'text in, e.g. "gbk" or "gb18030", or leave it out for a Unicode database (see '
            "docs/mapping.md) / 文本编码与配置不符,请将数据源的 encoding 设置为数据库实际使用"
            "的字符集"
        )

    def _undecodable_column(self, encoding: str, sql: str, params: list[Any]) -> str | None:
        """Which column holds the text that did not decode: the statement read again with
        the text as raw bytes (only after a failure, so the cost does not matter)."""
        conn, dialect = self._require()
        kinds = _NARROW_TEXT + (_WIDE_TEXT if dialect.name == "mariadb" else ())
        try:
            for kind in kinds:
                conn.add_output_converter(kind, bytes)
            cur = conn.cursor().execute(sql, params)
            names = _column_names(cur)
            while batch := cur.fetchmany(self.settings.fetch_size):
                for values in batch:
                    raw = [
                        (n, v) for n, v in zip(names, values, strict=True) if isinstance(v, bytes)
                    ]
                    found = text.undecodable_column(raw, encoding)
                    if found is not None:
                        return found
            return None
        except (pyodbc.Error, UnicodeDecodeError):
            return None  # the message goes out without the column name
        finally:
            conn.clear_output_converters()

    def _check_encoding(self, conn: pyodbc.Connection, dialect: Dialect) -> None:
        """Stop when the setting disagrees with what the database says of its text."""
        configured = self.settings.encoding
        if dialect.name == "sqlite":
            charset = "UTF-8"  # SQLite keeps text in UTF-8 (or UTF-16)
        elif dialect.name == "postgresql":
            driver = str(conn.getinfo(pyodbc.SQL_DRIVER_NAME) or "").lower()
            # The ANSI driver hands over bytes in the client encoding; the Unicode driver
            # converts, so what counts is what the database keeps.
            which = "client_encoding" if "psqlodbca" in driver else "server_encoding"
            sql = f"SELECT CAST(current_setting('{which}') AS VARCHAR(64))"
            charset = str(conn.cursor().execute(sql).fetchone()[0])
        else:
            return  # MariaDB: per table (_check_table); others cannot say
        wanted = text.family(charset)
        if wanted is not None and wanted != text.family(configured):
            raise SourceError(text.mismatch(self.settings.name, "every table", charset, configured))

    def _check_table(self, table: TableSettings) -> None:
        """MariaDB/MySQL: the character set of each text column against the setting."""
        conn, dialect = self._require()
        if dialect.name != "mariadb" or table.table is None or table.label in self._checked:
            return
        schema, _, name = table.table.rpartition(".")
        sql = (
            "SELECT COLUMN_NAME, CHARACTER_SET_NAME FROM information_schema.COLUMNS WHERE "
            f"TABLE_SCHEMA = {'?' if schema else 'DATABASE()'} AND TABLE_NAME = ? AND "
            "CHARACTER_SET_NAME IS NOT NULL ORDER BY ORDINAL_POSITION"
        )
        try:
            rows = conn.cursor().execute(sql, [*([schema] if schema else []), name]).fetchall()
        except pyodbc.Error as exc:
            raise self._fail(exc, f"reading the character sets of {table.label}") from exc
        configured = text.family(self.settings.encoding)
        for column, charset in rows:
            wanted = text.family(str(charset))
            if wanted is not None and wanted != configured:
                raise SourceError(
                    text.mismatch(
                        self.settings.name,
                        f"table {table.label}, column {column}",
                        str(charset),
                        self.settings.encoding,
                    )
                )
        self._checked.add(table.label)

    def open(self) -> None:
        if self._conn is not None:
            return
        conn, dialect = self._connect(self.settings.connection)
        extra = driver_options(dialect.name, self.settings.connection, self.settings.fetch_size)
        if extra:
            # Reconnect with the options this driver needs (streaming, a known charset).
            conn.close()
            conn, dialect = self._connect(self.settings.connection.rstrip(";") + ";" + extra)
        try:
            self._set_text_decoding(conn, dialect)
            self._set_session_zone(conn, dialect)
            self._check_encoding(conn, dialect)
        except pyodbc.Error as exc:
            conn.close()
            raise self._fail(exc, "setting up the session (text decoding, time zone)") from exc
        except SourceError:
            conn.close()
            raise
        self._conn, self._dialect = conn, dialect

    def _set_session_zone(self, conn: pyodbc.Connection, dialect: Dialect) -> None:
        """Make the session's zone the source's, so zone-aware columns (PostgreSQL
        timestamptz, MariaDB TIMESTAMP) arrive, and bound times compare, as local times of
        the source like the plain DATETIME columns of legacy systems."""
        # Written as a literal, not bound: ANSI drivers refuse wide parameters here. The
        # name is an IANA zone name (checked by ZoneInfo and the pattern), never row data.
        name = self.settings.timezone
        if not re.fullmatch(r"[A-Za-z0-9_+\-/]+", name):
            return
        if dialect.name == "postgresql":
            conn.execute(f"SET TIME ZONE '{name}'")
        elif dialect.name == "mariadb":
            try:
                conn.execute(f"SET time_zone = '{name}'")
            except pyodbc.Error:
                # Named zones need the server's zone tables; China has had no DST since
                # 1991, so the current offset is exact for Chinese zones.
                offset = datetime.now(self.zone).strftime("%z")
                conn.execute(f"SET time_zone = '{offset[:3]}:{offset[3:]}'")

    def _set_text_decoding(self, conn: pyodbc.Connection, dialect: Dialect) -> None:
        if dialect.name == "mariadb":
            # MariaDB Connector/ODBC 3.1 miscounts some wide strings ('秘密' arrives as '秘'),
            # so text is fetched narrow, in the connection's character set (utf8mb4 unless
            # the connection string says otherwise; the server converts GBK tables to it).
            # The pyodbc wiki gives the same advice for MySQL. The setting is checked
            # against each table's character sets instead (_check_table).
            encoding = _narrow_encoding(self.settings.connection)
            conn.setdecoding(pyodbc.SQL_CHAR, encoding=encoding)
            conn.setdecoding(pyodbc.SQL_WCHAR, encoding=encoding, ctype=pyodbc.SQL_CHAR)
        else:
            # ANSI drivers hand over narrow (SQL_CHAR) text in the legacy encoding (unset:
            # Unicode, so UTF-8). Unicode drivers hand over wide text, which this does not
            # touch. Parameters stay wide (pyodbc's default): setencoding would make a
            # Unicode driver reject them.
            conn.setdecoding(pyodbc.SQL_CHAR, encoding=self.settings.encoding or "utf-8")

    def _connect(self, connection: str) -> tuple[pyodbc.Connection, Dialect]:
        try:
            # autocommit: every poll sees what is committed now, and no read holds a
            # transaction open on the legacy database.
            conn = pyodbc.connect(connection, autocommit=True, timeout=15)
        except pyodbc.Error as exc:
            raise self._fail(exc, "connecting") from exc
        try:
            dbms = str(conn.getinfo(pyodbc.SQL_DBMS_NAME) or "")
            quote = str(conn.getinfo(pyodbc.SQL_IDENTIFIER_QUOTE_CHAR) or "")
        except pyodbc.Error as exc:
            conn.close()
            raise self._fail(exc, "reading the driver's capabilities") from exc
        return conn, dialect_for(dbms, quote)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except pyodbc.Error:
                pass  # closing a broken connection: nothing left to release

    def __enter__(self) -> OdbcSource:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        """ "sqlite", "postgresql", "mariadb", "sqlserver" or "other"."""
        return self._require()[1].name

    def _require(self) -> tuple[pyodbc.Connection, Dialect]:
        if self._conn is None or self._dialect is None:
            self.open()
        assert self._conn is not None and self._dialect is not None
        return self._conn, self._dialect

    # -- time -----------------------------------------------------------------------------

    def database_now(self) -> datetime:
        """The database's own now, tz-aware in the source's zone."""
        conn, dialect = self._require()
        try:
            value = conn.cursor().execute(dialect.now_sql).fetchone()[0]
        except pyodbc.Error as exc:
            raise self._fail(exc, "asking the database for its time") from exc
        if dialect.now_is_epoch:
            return datetime.fromtimestamp(float(value), tz=UTC).astimezone(self.zone)
        return self._aware(value)

    def _local(self, moment: datetime) -> datetime:
        """A time as the legacy database stores it: naive local time of the source's zone."""
        if moment.tzinfo is None:
            return moment
        return moment.astimezone(self.zone).replace(tzinfo=None)

    def _bind_time(self, moment: datetime) -> Any:
        local = self._local(moment)
        return local.strftime(_SQLITE_TIME) if self._require()[1].text_times else local

    def _aware(self, value: Any) -> datetime:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                pass  # reported below with the value
        elif isinstance(value, date) and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        if not isinstance(value, datetime):
            raise SourceError(
                f"source {self.settings.name!r}: the timestamp column holds {value!r}, which is "
                "not a date or time; set timestamp_column to a DATE/DATETIME column, or "
                "convert a text column in a query (see docs/mapping.md) / "
                "timestamp_column 必须是日期或时间类型的列"
            )
        if value.tzinfo is None:
            return value.replace(tzinfo=self.zone)
        return value.astimezone(self.zone)

    # -- SQL building ---------------------------------------------------------------------

    def quote(self, name: str) -> str:
        """Quote an identifier (``schema.table`` quoted part by part) with the driver's char."""
        q = self._require()[1].quote
        if not q:
            return name
        return ".".join(q + part.replace(q, q + q) + q for part in name.split("."))

    def _column(self, name: str) -> str:
        return "q." + self.quote(name)

    def _from(self, table: TableSettings) -> str:
        if table.query:
            return f"({table.query}) q"
        assert table.table is not None
        return f"{self.quote(table.table)} q"

    def _ts_expr(self, table: TableSettings) -> str:
        if table.timestamp_column is None:
            raise SourceError(
                f"source {self.settings.name!r}, table {table.label}: timestamp_column is not "
                "set / 未设置 timestamp_column"
            )
        column = self._column(table.timestamp_column)
        return f"datetime({column})" if self._require()[1].text_times else column

    def _select(self, table: TableSettings) -> str:
        if table.mode == "timestamp" and self._require()[1].text_times:
            return f"SELECT q.*, {self._ts_expr(table)} AS {self.quote(_TS_ALIAS)} FROM "
        return "SELECT q.* FROM "

    def _order(self, table: TableSettings, descending: bool = False) -> str:
        direction = " DESC" if descending else ""
        key = self._column(table.key_column) + direction
        if table.mode == "timestamp":
            return f" ORDER BY {self._ts_expr(table)}{direction}, {key}"
        if table.mode == "key":
            return f" ORDER BY {key}"
        return ""

    # -- reading --------------------------------------------------------------------------

    def read(self, table: TableSettings, cursor: dict[str, Any] | None) -> Iterator[Chunk]:
        """Rows after ``cursor`` (None: from the start) up to the database's now minus delay."""
        if table.mode == "snapshot":
            stamp = {"snapshot_at": self.database_now().isoformat()}
            yield from self._stream(table, [], [], stamp)
            return
        if table.mode == "key":
            clauses: list[str] = []
            params: list[Any] = []
            if cursor and cursor.get("key") is not None:
                clauses, params = [f"{self._column(table.key_column)} > ?"], [cursor["key"]]
            yield from self._stream(table, clauses, params, cursor)
            return
        ts = self._ts_expr(table)
        key = self._column(table.key_column)
        upper = self.database_now() - timedelta(seconds=table.delay_seconds)
        clauses, params = [f"{ts} <= ?"], [self._bind_time(upper)]
        if cursor and cursor.get("ts"):
            cts = self._aware(cursor["ts"])
            if table.reread_seconds > 0:
                clauses.append(f"{ts} >= ?")
                params.append(self._bind_time(cts - timedelta(seconds=table.reread_seconds)))
            else:
                clause, values = self._after_position(
                    ts, key, self._bind_time(cts), cursor.get("key")
                )
                clauses.append(clause)
                params += values
        yield from self._stream(table, clauses, params, cursor)

    def _after_position(self, ts: str, key: str, when: Any, last_key: Any) -> tuple[str, list[Any]]:
        """Rows after (when, last_key) in (timestamp, key) order."""
        if self._require()[1].row_values:
            # One range on an index of (timestamp, key): each page starts where the last
            # ended instead of sorting every remaining row again.
            # The redundant "ts >= ?" gives the planner the range's lower end, which it
            # does not take from the row comparison on an expression index.
            return f"({ts} >= ? AND ({ts}, {key}) > (?, ?))", [when, when, last_key]
        return f"(({ts} = ? AND {key} > ?) OR {ts} > ?)", [when, last_key, when]

    def read_range(
        self,
        table: TableSettings,
        start: datetime | int | None,
        end: datetime | int | None,
    ) -> Iterator[Chunk]:
        """Backfill: rows with ``start <= ts < end`` (timestamp mode), ``start <= key < end``
        (key mode: integers), or the whole table (snapshot mode). No delay is applied."""
        clauses, params = self._range(table, start, end)
        yield from self._stream(table, clauses, params, None)

    def count(
        self,
        table: TableSettings,
        start: datetime | int | None = None,
        end: datetime | int | None = None,
    ) -> int | None:
        """How many rows ``read_range`` with the same bounds would yield (progress bars)."""
        clauses, params = self._range(table, start, end)
        sql = "SELECT COUNT(*) FROM " + self._from(table) + _where(clauses)
        conn, _ = self._require()
        try:
            row = conn.cursor().execute(sql, params).fetchone()
        except pyodbc.Error as exc:
            raise self._fail(exc, f"counting rows of {table.label}") from exc
        return int(row[0]) if row is not None else None

    def columns(self, table: TableSettings) -> list[str]:
        """The column names a read of ``table`` yields (no row is fetched)."""
        conn, _ = self._require()
        sql = "SELECT q.* FROM " + self._from(table) + " WHERE 1 = 0"
        try:
            cur = conn.cursor().execute(sql)
            names = _column_names(cur)
            cur.close()
        except pyodbc.Error as exc:
            raise self._fail(exc, f"reading the columns of {table.label}") from exc
        return names

    def sample(self, table: TableSettings, n: int) -> list[dict[str, Any]]:
        """Up to ``n`` of the most recent rows (for ``esup-agent check``)."""
        conn, dialect = self._require()
        self._check_table(table)
        sql = self._select(table) + self._from(table) + self._order(table, descending=True)
        if dialect.name in ("sqlite", "postgresql", "mariadb"):
            sql += f" LIMIT {int(n)}"  # drivers that buffer results would hold the table
        try:
            cur = conn.cursor().execute(sql)
            names = _column_names(cur)
            rows = [self._row(names, r) for r in cur.fetchmany(n)]
            cur.close()
        except pyodbc.Error as exc:
            raise self._fail(exc, f"reading a sample of {table.label}") from exc
        except UnicodeDecodeError as exc:
            raise self._undecodable(exc, table, sql, []) from exc
        return rows

    def _range(
        self, table: TableSettings, start: datetime | int | None, end: datetime | int | None
    ) -> tuple[list[str], list[Any]]:
        if table.mode == "snapshot":
            return [], []
        clauses: list[str] = []
        params: list[Any] = []
        if table.mode == "key":
            column = self._column(table.key_column)
            for bound, op in ((start, ">="), (end, "<")):
                if bound is not None:
                    if isinstance(bound, datetime):
                        raise SourceError(
                            f"table {table.label} is read by key: give a key range, not times / "
                            "该表按主键读取,请给出主键范围而不是时间"
                        )
                    clauses.append(f"{column} {op} ?")
                    params.append(int(bound))
        else:
            ts = self._ts_expr(table)
            for bound, op in ((start, ">="), (end, "<")):
                if bound is not None:
                    if not isinstance(bound, datetime):
                        raise SourceError(
                            f"table {table.label} is read by timestamp: give times, not keys / "
                            "该表按时间戳读取,请给出时间范围"
                        )
                    clauses.append(f"{ts} {op} ?")
                    params.append(self._bind_time(bound))
        return clauses, params

    def _row(self, names: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
        row = dict(zip(names, values, strict=True))
        row.pop(_TS_ALIAS, None)
        return row

    def _rows(self, names: Sequence[str], batch: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
        """``_row`` of every row of a batch, in one pass (this is per row, so it counts)."""
        if names.count(_TS_ALIAS) == 1 and names[-1] == _TS_ALIAS:
            # The cursor column is the last one (SELECT q.*, ... AS alias): leave it out.
            kept = names[:-1]
            return [dict(zip(kept, values, strict=False)) for values in batch]
        if _TS_ALIAS not in names:
            return [dict(zip(names, values, strict=True)) for values in batch]
        return [self._row(names, values) for values in batch]

    def _position(
        self, table: TableSettings, names: Sequence[str], values: Sequence[Any]
    ) -> dict[str, Any]:
        by_name = dict(zip(names, values, strict=True))
        key = _pick(by_name, table.key_column, self.settings.name, table.label)
        if isinstance(key, Decimal) and key == key.to_integral_value():
            key = int(key)  # NUMBER(10) keys of Oracle-style schemas: keep the cursor JSON
        if table.mode == "key":
            return {"key": key}
        if _TS_ALIAS in by_name:
            raw = by_name[_TS_ALIAS]
        else:
            raw = _pick(by_name, table.timestamp_column or "", self.settings.name, table.label)
        return {"ts": self._aware(raw).isoformat(), "key": key}

    @staticmethod
    def _after(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
        """The later of two positions: re-read rows must not move the cursor back."""
        if not old:
            return new
        if "ts" in new:
            if not old.get("ts"):
                return new
            old_pos = (datetime.fromisoformat(old["ts"]), old.get("key"))
            new_pos = (datetime.fromisoformat(new["ts"]), new.get("key"))
            try:
                return new if new_pos > old_pos else old
            except TypeError:  # keys of different types: compare the times only
                return new if new_pos[0] > old_pos[0] else old
        try:
            return new if new["key"] > old.get("key") else old
        except TypeError:
            return new

    def _stream(
        self,
        table: TableSettings,
        clauses: list[str],
        params: list[Any],
        start: dict[str, Any] | None,
    ) -> Iterator[Chunk]:
        """Chunks of the rows matching ``clauses``, in (timestamp, key) or key order.

        Where the driver buffers whole results (MariaDB Connector/ODBC before 3.1.17), the
        rows are read in pages of ``PAGE_CHUNKS`` chunks, each page resuming after the last
        row of the one before (keyset pagination), so memory stays bounded there too.
        """
        _, dialect = self._require()
        self._check_table(table)
        position = dict(start) if start else {}
        page = self.settings.fetch_size * PAGE_CHUNKS
        paged = dialect.paged and table.mode != "snapshot"
        after: list[str] = []
        after_params: list[Any] = []
        while True:
            sql = (
                self._select(table)
                + self._from(table)
                + _where([*clauses, *after])
                + self._order(table)
                + (f" LIMIT {int(page)}" if paged else "")
            )
            read = 0
            last: tuple[list[str], Sequence[Any]] | None = None
            for names, batch in self._fetch(table, sql, [*params, *after_params]):
                read += len(batch)
                last = (names, batch[-1])
                rows = self._rows(names, batch)
                if table.mode != "snapshot":
                    position = self._after(position, self._position(table, names, batch[-1]))
                yield Chunk(rows=rows, cursor=dict(position))
            if not paged or read < page or last is None:
                return
            after, after_params = self._resume_after(table, *last)

    def _resume_after(
        self, table: TableSettings, names: list[str], values: Sequence[Any]
    ) -> tuple[list[str], list[Any]]:
        """The condition for rows after this one in (timestamp, key) or key order."""
        by_name = dict(zip(names, values, strict=True))
        key_column = self._column(table.key_column)
        key = _pick(by_name, table.key_column, self.settings.name, table.label)
        if table.mode == "key":
            return [f"{key_column} > ?"], [key]
        ts = self._ts_expr(table)
        if _TS_ALIAS in by_name:  # SQLite: the normalised text the comparison is made on
            raw = by_name[_TS_ALIAS]
        else:
            raw = _pick(by_name, table.timestamp_column or "", self.settings.name, table.label)
        clause, values = self._after_position(ts, key_column, raw, key)
        return [clause], values

    def _fetch(
        self, table: TableSettings, sql: str, params: list[Any]
    ) -> Iterator[tuple[list[str], list[Any]]]:
        """Batches of ``fetch_size`` rows of one statement, with the column names."""
        conn, _ = self._require()
        doing = f"reading {table.label}"
        try:
            cur = conn.cursor()
            cur.execute(sql, params)
            names = _column_names(cur)
        except pyodbc.Error as exc:
            raise self._fail(exc, doing) from exc
        try:
            while True:
                try:
                    batch = cur.fetchmany(self.settings.fetch_size)
                except pyodbc.Error as exc:
                    raise self._fail(exc, doing) from exc
                except UnicodeDecodeError as exc:
                    raise self._undecodable(exc, table, sql, params) from exc
                if not batch:
                    return
                yield names, batch
        finally:
            try:
                cur.close()
            except pyodbc.Error:
                pass  # the statement is finished either way
