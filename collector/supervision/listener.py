"""Opening matters when the engine stores new yellow or red verdicts.

:func:`subscribe` registers one listener with :func:`collector.engine.events.on_new_verdicts`;
call it once at startup (the app and the sweep command) with the settings' policy. The matter
opens in the engine's transaction, inside a savepoint: a matter that cannot open is logged and
never blocks the verdict; :func:`collector.supervision.catch_up.open_missing_matters` (CLI
``supervision open-missing``) opens it later.
"""

from __future__ import annotations

import logging

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from collector.engine.events import VerdictListener, VerdictRow, on_new_verdicts, remove_listener

from .calendars import calendar_for
from .errors import SupervisionError
from .matters import CARD_KINDS, MatterPolicy, open_matters_for

log = logging.getLogger(__name__)
_current: list[VerdictListener] = []


def subscribe(policy: MatterPolicy | None = None) -> VerdictListener:
    """Open a matter for every new yellow or red verdict; replaces an earlier subscription."""
    chosen = policy or MatterPolicy()

    def open_for_cards(conn: Connection, rows: list[VerdictRow]) -> None:
        for row in rows:
            if row["kind"] not in CARD_KINDS:
                continue
            try:
                with conn.begin_nested():
                    calendar = calendar_for(conn, row.get("calendar_version"))
                    open_matters_for(conn, [row], calendar=calendar, policy=chosen)
            except (SupervisionError, SQLAlchemyError) as exc:
                log.warning(
                    "no supervision matter opened for verdict %s (case %s): %s; "
                    "run `esup-collector supervision open-missing` after fixing it",
                    row["id"],
                    row["case_id"],
                    exc,
                )

    unsubscribe()
    on_new_verdicts(open_for_cards)
    _current.append(open_for_cards)
    return open_for_cards


def unsubscribe() -> None:
    """Remove the listener :func:`subscribe` registered (tests use it to clean up)."""
    while _current:
        remove_listener(_current.pop())
