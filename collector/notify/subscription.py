"""Wire the outbox to the engine: new verdicts are enqueued in the engine's own transaction,
so a verdict and its messages are stored together or not at all."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from ..engine.events import VerdictListener, on_new_verdicts, remove_listener
from ..store.timestamps import utc_now
from .config import NotifyConfig
from .errors import NotifyError
from .outbox import enqueue_for_verdicts

log = logging.getLogger(__name__)


def subscribe(config: NotifyConfig) -> VerdictListener:
    """Register an enqueue listener with the engine; returns it (for :func:`unsubscribe`)."""

    def enqueue_new_verdicts(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        # A savepoint keeps a notification problem from undoing the verdicts themselves;
        # `notify run-once` re-enqueues recent verdicts, so nothing is lost for good.
        # Due from the moment the sweep judged (its --at), so a sweep of a past moment
        # can be dispatched as of that moment too.
        issued = [r["issued_at"] for r in rows if isinstance(r.get("issued_at"), datetime)]
        at = max(issued) if issued else utc_now()
        try:
            with conn.begin_nested():
                enqueue_for_verdicts(conn, rows, at, config)
        except (NotifyError, SQLAlchemyError) as exc:
            log.error("could not enqueue notifications for %d verdicts: %s", len(rows), exc)

    on_new_verdicts(enqueue_new_verdicts)
    return enqueue_new_verdicts


def unsubscribe(listener: VerdictListener) -> None:
    remove_listener(listener)
