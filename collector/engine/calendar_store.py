"""The working-day calendar in the store: versions of whole row sets, seeded on first use.

Every change (an imported notice) writes a new version holding every row (copy-on-write);
the newest version is the current one. :func:`current_calendar` loads it as a
:class:`collector.clock.WorkCalendar` whose version is the store's version number, cached per
version in this process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.exc import IntegrityError

from collector.clock import (
    CalendarRow,
    WorkCalendar,
    load_notice_file,
    rows_version,
    seed_rows,
    seed_years,
)
from collector.engine import audit
from collector.store.tables import calendar_days, calendar_versions
from collector.store.timestamps import utc_now

# Keyed by (version, content hash): several stores in one process may share numbers.
_cache: dict[tuple[int, str], WorkCalendar] = {}
_seed_cache: list[CalendarRow] = []
_CHUNK = 2000


@dataclass(frozen=True)
class DayChange:
    day: date
    old: CalendarRow | None
    new: CalendarRow

    def describe(self) -> str:
        def word(row: CalendarRow | None) -> str:
            if row is None:
                return "none"
            kind = "work" if row.is_workday else "rest"
            return f"{kind}{' ' + row.name if row.name else ''}"

        return f"{self.day.isoformat()}: {word(self.old)} -> {word(self.new)}"


@dataclass(frozen=True)
class ImportResult:
    version: int | None  # None when nothing changed
    changes: list[DayChange]


def current_version(conn: Connection) -> int | None:
    return conn.execute(select(func.max(calendar_versions.c.version))).scalar()


def _write_version(
    conn: Connection,
    rows: list[CalendarRow],
    *,
    version: int,
    parent: int | None,
    created_by: str,
    reason: str,
    at: datetime,
) -> None:
    conn.execute(
        insert(calendar_versions).values(
            version=version,
            created_at=at,
            created_by=created_by,
            reason=reason,
            parent=parent,
            content_hash=rows_version(rows)[:40],
        )
    )
    values = [
        {
            "version": version,
            "day": r.day,
            "is_workday": r.is_workday,
            "name": r.name,
            "source": r.source,
        }
        for r in rows
    ]
    for start in range(0, len(values), _CHUNK):
        conn.execute(insert(calendar_days), values[start : start + _CHUNK])


def ensure_seeded(engine: Engine) -> None:
    """Seed version 1 from chinese_calendar when the store has no calendar yet."""
    with engine.connect() as conn:
        if current_version(conn) is not None:
            return
    if not _seed_cache:
        # chinese_calendar takes seconds for 23 years; its answer never changes in a process.
        _seed_cache.extend(seed_rows(seed_years()))
    rows = list(_seed_cache)
    try:
        with engine.begin() as conn:
            if current_version(conn) is not None:
                return
            now = utc_now()
            _write_version(
                conn,
                rows,
                version=1,
                parent=None,
                created_by="seed",
                reason="seeded from the chinese-calendar package",
                at=now,
            )
            audit.append(
                conn,
                at=now,
                actor="seed",
                action="calendar.seed",
                subject="calendar:1",
                details={"years": sorted({r.day.year for r in rows})},
            )
    except IntegrityError:
        # Another process seeded at the same moment: its version 1 is as good as ours.
        pass


def load_rows(conn: Connection, version: int) -> list[CalendarRow]:
    result = conn.execute(
        select(
            calendar_days.c.day,
            calendar_days.c.is_workday,
            calendar_days.c.name,
            calendar_days.c.source,
        ).where(calendar_days.c.version == version)
    )
    return [CalendarRow(r.day, bool(r.is_workday), r.name, r.source) for r in result]


def calendar_at(conn: Connection, version: int) -> WorkCalendar:
    content = conn.execute(
        select(calendar_versions.c.content_hash).where(calendar_versions.c.version == version)
    ).scalar()
    key = (version, str(content))
    cached = _cache.get(key)
    if cached is None:
        cached = WorkCalendar.from_rows(load_rows(conn, version), version)
        _cache[key] = cached
    return cached


def current_calendar(engine: Engine) -> WorkCalendar:
    """The newest calendar version (seeding the store first when it has none)."""
    ensure_seeded(engine)
    with engine.connect() as conn:
        version = current_version(conn)
        assert version is not None
        return calendar_at(conn, version)


def import_notice(engine: Engine, path: Path, *, actor: str) -> ImportResult:
    """Apply a notice file as a new calendar version; no version when nothing changes."""
    notice = load_notice_file(path)
    new_rows = notice.rows()
    base = current_calendar(engine)
    changes = [DayChange(r.day, _row(base, r.day), r) for r in new_rows if _row(base, r.day) != r]
    if not changes:
        return ImportResult(None, [])
    merged = base.with_rows(new_rows).rows()
    with engine.begin() as conn:
        parent = current_version(conn)
        version = (parent or 0) + 1
        now = utc_now()
        reason = f"import {path.name}: {notice.reference}"
        _write_version(
            conn, merged, version=version, parent=parent, created_by=actor, reason=reason, at=now
        )
        audit.append(
            conn,
            at=now,
            actor=actor,
            action="calendar.import",
            subject=f"calendar:{version}",
            details={
                "file": path.name,
                "year": notice.year,
                "reference": notice.reference,
                "changed_days": len(changes),
                "parent": parent,
            },
        )
    return ImportResult(version, changes)


def _row(calendar: WorkCalendar, day: date) -> CalendarRow | None:
    info = calendar.day_info(day)
    if info is None:
        return None
    return CalendarRow(day, info.is_workday, info.name, info.source)
