"""The collector's web application, built from explicit settings (no globals, no import-time
engine): ``create_app(settings)``.

The store must already be at the newest migration (``esup-collector serve`` and
``esup-collector db upgrade`` migrate it); otherwise the app refuses to start and says which
command fixes it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from . import __version__
from .api import batches, enrol, health, heartbeat, openapi, refusals
from .api.context import AppContext
from .api.door import Door
from .engine import worker as engine_worker
from .keys import load_or_create_key
from .notify import wiring as notify_wiring
from .private_files import private_dir
from .settings import CollectorSettings
from .store.engine import make_engine
from .store.migrate import check_current, head_revision
from .supervision import listener as supervision_listener
from .supervision.matters import MatterPolicy


def create_app(settings: CollectorSettings) -> FastAPI:
    """Build the app; the engine and the collector key are created here, for this app only."""
    settings = settings.validated()
    private_dir(settings.data_dir)  # 0700: it holds the store and the key
    key = load_or_create_key(settings.resolved_key_file)
    engine = make_engine(settings.resolved_store_url)
    check_current(engine)
    ctx = AppContext(settings=settings, engine=engine, key=key)
    notifications = notify_wiring.prepare(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop_notifications = notifications.start(engine)
        # New yellow/red verdicts open supervision matters in the engine's transaction.
        supervision_listener.subscribe(
            MatterPolicy(reply_workdays=settings.supervision_reply_workdays)
        )
        sweep_worker = engine_worker.worker_for(engine, settings)
        if sweep_worker is not None:
            sweep_worker.start()
        _app.state.engine_worker = sweep_worker
        yield
        if sweep_worker is not None:
            sweep_worker.stop()
        supervision_listener.unsubscribe()
        stop_notifications()
        engine.dispose()

    app = FastAPI(
        title="esupervision collector",
        version=__version__,
        description="Agent-facing API: enrolment, signed batches and heartbeats.",
        lifespan=lifespan,
        # The built-in pages load Swagger UI and ReDoc from a CDN: openapi.install_docs
        # serves them from the package, and only when the settings allow.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.door = Door(settings.unauthenticated_per_address, settings.parse_workers)
    app.state.store_revision = head_revision()  # check_current said the store is there
    refusals.install(app)
    app.include_router(enrol.router)
    app.include_router(batches.router)
    app.include_router(heartbeat.router)
    app.include_router(health.router)
    if settings.api_docs:
        openapi.install_docs(app)
    return app
