"""Opening matters when the engine stores new yellow or red verdicts.

:func:`subscribe` registers one listener with :func:`collector.engine.events.on_new_verdicts`;
call it once at startup (the app and the sweep command) with the settings' policy. The matter
opens in the engine's transaction, so a verdict and its matter are stored together or not at
all.
"""

from __future__ import annotations

from sqlalchemy import Connection

from collector.engine.events import VerdictListener, VerdictRow, on_new_verdicts, remove_listener

from .calendars import calendar_for
from .matters import CARD_KINDS, MatterPolicy, open_matters_for

_current: list[VerdictListener] = []


def subscribe(policy: MatterPolicy | None = None) -> VerdictListener:
    """Open a matter for every new yellow or red verdict; replaces an earlier subscription."""
    chosen = policy or MatterPolicy()

    def open_for_cards(conn: Connection, rows: list[VerdictRow]) -> None:
        for row in rows:
            if row["kind"] in CARD_KINDS:
                calendar = calendar_for(conn, row.get("calendar_version"))
                open_matters_for(conn, [row], calendar=calendar, policy=chosen)

    unsubscribe()
    on_new_verdicts(open_for_cards)
    _current.append(open_for_cards)
    return open_for_cards


def unsubscribe() -> None:
    """Remove the listener :func:`subscribe` registered (tests use it to clean up)."""
    while _current:
        remove_listener(_current.pop())
