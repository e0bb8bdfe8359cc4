"""Listeners told about newly stored verdicts (notifications and supervision matters use it).

``on_new_verdicts(callback)`` registers a callback; after the engine stores NEW verdicts
(never for verdicts that already existed) it calls every callback inside the same
transaction with ``(connection, rows)`` where each row is a :class:`VerdictRow`. A callback
that raises aborts that transaction, so a listener that must not block verdicts should catch
its own errors. Keys of a row:

id, case_id (SBLSH), department, kind (warning|yellow|red|anomaly), code (anomaly code or
""), rule, level, dedup_key, issued_at (aware datetime, UTC), due (dict: promised_deadline,
legal_deadline, workdays_used, state; ISO dates or None), calendar_version, rule_version,
details (dict).

Rules: "overdue" (warning/yellow/red of the promised and legal limits), "step_limit" (yellow),
or the anomaly code; a verdict re-issued after a withdrawal carries "<rule>#<n>". A
``data_silence`` anomaly concerns a department, not a case: its case_id is "" and its rule is
"data_silence:<department>:<last seen, UTC>". A ``counts_disagree`` anomaly (reconciliation,
:mod:`collector.engine.reconcile`) likewise: rule "counts_disagree:<department>:<type>:<day>".
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy.engine import Connection


class VerdictRow(TypedDict):
    id: int
    case_id: str
    department: str
    kind: str
    code: str
    rule: str
    level: str
    dedup_key: str
    issued_at: datetime
    due: dict[str, Any]
    calendar_version: int
    rule_version: str
    details: dict[str, Any]


VerdictListener = Callable[[Connection, list[VerdictRow]], None]

_listeners: list[VerdictListener] = []


def on_new_verdicts(callback: VerdictListener) -> VerdictListener:
    """Register ``callback`` (usable as a decorator); registering twice keeps one entry."""
    if callback not in _listeners:
        _listeners.append(callback)
    return callback


def remove_listener(callback: VerdictListener) -> None:
    """Unregister ``callback`` (tests use it to clean up)."""
    if callback in _listeners:
        _listeners.remove(callback)


def notify_new_verdicts(conn: Connection, rows: list[VerdictRow]) -> None:
    """Call every listener with the verdicts just stored (nothing when ``rows`` is empty)."""
    if not rows:
        return
    for listener in list(_listeners):
        listener(conn, rows)
