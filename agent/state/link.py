"""The agent's link to the collector, with ONE owner: what it last told the collector and what
it heard back (a journal kept in the outbox, so it survives restarts).

- ``clock_offset``: collector clock minus ours, measured NTP-style from signed answers (or a
  refusal as stale); every manifest is signed at our clock plus this offset.
- ``told_behind``: whether the last report the collector acknowledged said "behind" (records
  still pending or a source being read): the collector then waits for one saying otherwise.
- ``collector_last_seq``: the highest sequence number the collector holds for this agent, as it
  said in a signed heartbeat acknowledgement or a ``seq_reused`` refusal; new records are
  numbered above it (after a state directory was restored from a backup, the outbox's own
  counter is behind the collector's).
- ``stopped``: the collector's own signed refusal ``agent_revoked``: nothing is sent until a
  new enrolment. ``trouble``: why pushing is failing now (retried with backoff), for status.

Pusher, heartbeat and runner read and change these only through this class.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from exchange_spec import DEFAULT_DATE_BOUNDS

from ..errors import OutboxError
from .records import Records
from .store import StateStore

log = logging.getLogger("esup.agent")
KEYS = (
    "clock_offset_seconds",
    "told_behind",
    "collector_last_seq",
    "push_stopped",
    "push_trouble",
    "last_push",
    "last_heartbeat",
)


def clock_offset(sent: datetime, received: datetime, collector: datetime) -> float:
    """Seconds to add to our clock to read the collector's (positive: we are behind)."""
    return (collector - (sent + (received - sent) / 2)).total_seconds()


class CollectorLink:
    def __init__(self, store: StateStore, records: Records) -> None:
        self.store = store
        self.records = records
        self._facts: dict[str, Any] = {}
        self.reload()

    def reload(self) -> None:
        rows = self.store.query(
            f"SELECT key, value FROM meta WHERE key IN ({', '.join('?' * len(KEYS))})", KEYS
        )
        self._facts = {k: json.loads(v) for k, v in rows}

    def reload_quietly(self) -> None:
        """After a rolled-back transaction: the facts as committed (kept as they are when
        even reading fails)."""
        try:
            self.reload()
        except OutboxError as exc:
            log.error("cannot read the link state back (%s)", exc)

    def _save(self, conn: sqlite3.Connection | None, **facts: Any) -> None:
        if conn is None:
            with self.store.transaction("save the link state") as own:
                self._save(own, **facts)
            return
        for key, value in facts.items():
            self.store.put(conn, key, value)
        self._facts.update(facts)

    # -- reads ------------------------------------------------------------------------------
    @property
    def clock_offset(self) -> float | None:
        value = self._facts.get("clock_offset_seconds")
        return float(value) if value is not None else None

    @property
    def told_behind(self) -> bool:
        return bool(self._facts.get("told_behind"))

    @property
    def collector_last_seq(self) -> int:
        return int(self._facts.get("collector_last_seq") or 0)

    @property
    def stopped(self) -> str | None:
        return self._facts.get("push_stopped") or None

    @property
    def trouble(self) -> str | None:
        return self._facts.get("push_trouble") or None

    @property
    def last_push(self) -> str | None:
        return self._facts.get("last_push")

    @property
    def last_heartbeat(self) -> str | None:
        return self._facts.get("last_heartbeat")

    def signing_time(self, now: datetime) -> str:
        """``now`` on the collector's clock, as a manifest's created_at."""
        return (now + timedelta(seconds=self.clock_offset or 0.0)).isoformat(
            timespec="milliseconds"
        )

    # -- what we heard ----------------------------------------------------------------------
    def learn_clock(self, sent: datetime, received: datetime, collector: datetime) -> None:
        # A stale refusal's time is not signed: a collector "time" outside the years any
        # record may carry (a proxy's 9999-12-31) would make every later signing time
        # overflow and stop pushes and heartbeats for good. Such a time teaches nothing.
        if not DEFAULT_DATE_BOUNDS.earliest <= collector.date() <= DEFAULT_DATE_BOUNDS.latest:
            log.warning(
                "ignored an implausible collector time %s / 忽略不合理的监察中心时间", collector
            )
            return
        self._save(None, clock_offset_seconds=round(clock_offset(sent, received, collector), 3))

    def heard_last_seq(self, last_seq: int, conn: sqlite3.Connection | None = None) -> bool:
        """The collector holds seqs up to ``last_seq``: number new records above it. True when
        our counter was behind (a restored state directory)."""
        if conn is None:
            with self.store.transaction("note the collector's last seq") as own:
                return self.heard_last_seq(last_seq, own)
        if last_seq > self.collector_last_seq:
            self._save(conn, collector_last_seq=last_seq)
        return self.records.raise_floor(conn, last_seq)

    def heartbeat_acknowledged(self, received: datetime, *, behind: bool | None = None) -> None:
        facts: dict[str, Any] = {"last_heartbeat": received.isoformat(timespec="milliseconds")}
        if behind is not None:
            facts["told_behind"] = behind
        self._save(None, **facts)

    def batch_acknowledged(self, conn: sqlite3.Connection, now: str, *, behind: bool) -> None:
        """Inside the transaction marking the batch's records."""
        facts: dict[str, Any] = {"last_push": now, "told_behind": behind}
        if self.trouble:
            facts["push_trouble"] = None
        self._save(conn, **facts)

    # -- pushing stopped or failing ---------------------------------------------------------
    def stop(self, message: str) -> None:
        self._save(None, push_stopped=message)

    def resume(self) -> None:
        """A new enrolment lifts a refusal."""
        self._save(None, push_stopped=None, push_trouble=None)

    def failing(self, message: str | None) -> None:
        """Why pushing fails now (None: it works again). Never raises: it is called on the
        failure path, where a full disk may refuse this write too."""
        if message == self.trouble:
            return
        try:
            self._save(None, push_trouble=message)
        except OutboxError as exc:
            self._facts["push_trouble"] = message
            log.error("cannot save the push state (%s): %s", exc, message)
