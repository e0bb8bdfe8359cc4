"""What every request handler needs, built once per app by create_app (never at import)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import StoreError
from ..keys import CollectorKey
from ..settings import CollectorSettings
from ..store import evidence
from ..store.timestamps import utc_now

#: Old nonces are swept after this many signed requests (cheap, and never on every call).
SWEEP_EVERY = 200


@dataclass
class AppContext:
    settings: CollectorSettings
    engine: Engine
    key: CollectorKey
    _calls: itertools.count[int] = field(default_factory=itertools.count)

    def now(self) -> datetime:
        return utc_now()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One database transaction; SQLAlchemy errors become StoreError (HTTP 503)."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"the store failed: {exc}") from exc

    def maybe_sweep_nonces(self) -> None:
        if next(self._calls) % SWEEP_EVERY:
            return
        with self.transaction() as conn:
            evidence.forget_old_nonces(
                conn, now=self.now(), retention_seconds=self.settings.nonce_retention_seconds
            )


def _context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Context = Annotated[AppContext, Depends(_context)]
