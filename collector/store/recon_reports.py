"""RECON records at ingest: keep an agent's latest count per department, record type and day,
with what the store holds for the same at that moment.

A RECON is not a case record: it carries no data version (each count replaces the last), so
it is kept here instead of among the record versions. It is compared inside the ingest
transaction, after the records of its batch: the agent queues a RECON behind the records it
counted, so the store holds all of them when the RECON arrives, and a record received later
(counted by a later RECON) cannot make this one look wrong. The engine turns a disagreement
into a verdict (:mod:`collector.engine.reconcile`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from exchange_spec.recon import KeyDigest, event_day

from .tables import recon_reports, records_current
from .timestamps import as_utc
from .upsert import insert_on_conflict


def is_recon(record: Any) -> bool:
    return isinstance(record, Mapping) and record.get("type") == "RECON"


def held(conn: Connection, department: str, record_type: str, day: date) -> KeyDigest:
    """Count and digest of the department's current records of that type and event day."""
    # Event times are ISO text with an offset; the day is taken in UTC+8, so the text range
    # is widened by a day on each side and the day checked on each time.
    low, high = (day - timedelta(days=1)).isoformat(), (day + timedelta(days=2)).isoformat()
    rows = conn.execute(
        select(records_current.c.business_key, records_current.c.event_time).where(
            records_current.c.department == department,
            records_current.c.record_type == record_type,
            records_current.c.event_time >= low,
            records_current.c.event_time < high,
        )
    )
    digest = KeyDigest()
    for key, moment in rows:
        if event_day(moment) == day:
            digest.add(key)
    return digest


def keep_reports(
    conn: Connection, source: str, records: Sequence[Mapping[str, Any]], now: datetime
) -> list[str]:
    """Keep valid RECON records in order; the status of each: "accepted", or "superseded"
    when a count made later is already kept for the same department, type and day."""
    statuses: list[str] = []
    for record in records:
        department, record_type = str(record["BMBM"]), str(record["RECORD_TYPE"])
        day = date.fromisoformat(str(record["DAY"]))
        # A count is never newer than its arrival: a COUNTED_AT in the future (an agent's
        # wrong clock, a forged value) would otherwise shut out every later count of that day.
        counted_at = (
            min(as_utc(datetime.fromisoformat(record["COUNTED_AT"])), now)
            if record.get("COUNTED_AT")
            else now
        )
        found = held(conn, department, record_type, day)
        digest = record.get("DIGEST")
        agrees = found.count == int(record["COUNT"]) and (
            digest is None or digest == found.hexdigest()
        )
        report = {
            "agent_count": int(record["COUNT"]),
            "quarantined": int(record.get("QUARANTINED", 0)),
            "agent_digest": digest,
            "held_count": found.count,
            "held_digest": found.hexdigest(),
            "source_table": str(record.get("SOURCE_TABLE", "")),
            "counted_at": counted_at,
            "received_at": now,
            "source": source,
            "agrees": agrees,
        }
        statement = insert_on_conflict(conn, recon_reports).values(
            department=department,
            record_type=record_type,
            day=day.isoformat(),
            verdicts_issued=0,
            **report,
        )
        # An older count arriving late (another agent, a resent batch) never replaces a newer.
        statement = statement.on_conflict_do_update(
            index_elements=[
                recon_reports.c.department,
                recon_reports.c.record_type,
                recon_reports.c.day,
            ],
            set_=report,
            where=recon_reports.c.counted_at <= counted_at,
        )
        kept = conn.execute(statement).rowcount
        statuses.append("accepted" if kept else "superseded")
    return statuses
