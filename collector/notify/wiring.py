"""What the web app runs for notifications: the verdict listener, and (when a notifications
file is configured) a job that every minute enqueues recent verdicts, sends what is due and
fetches SMS receipts. ``create_app`` calls :func:`prepare` (bad configuration fails at start)
and starts/stops the result in its lifespan."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import CollectorError
from ..settings import CollectorSettings
from ..store.timestamps import utc_now
from .config import NotifyConfig, load_notify_config
from .providers import Providers, build_providers

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 60


@dataclass
class Notifications:
    config: NotifyConfig
    providers: Providers
    run_job: bool

    def run_once(self, engine: Engine) -> None:
        """One pass of the job; errors are logged, the next minute tries again."""
        from ..engine.calendar_store import current_calendar
        from .dispatch import collect_receipts, dispatch_due
        from .outbox import enqueue_recent_verdicts

        now = utc_now()
        try:
            calendar = current_calendar(engine)
            with engine.begin() as conn:
                enqueue_recent_verdicts(conn, self.config, now)
            dispatch_due(engine, self.providers, now, calendar=calendar, config=self.config)
            collect_receipts(engine, self.providers, now)
        except (CollectorError, SQLAlchemyError) as exc:
            log.error("notifications pass failed, trying again in a minute: %s", exc)

    def start(self, engine: Engine) -> Callable[[], None]:
        """Subscribe to new verdicts and start the job; returns the function that stops both."""
        from apscheduler.schedulers.background import BackgroundScheduler

        from .subscription import subscribe, unsubscribe

        listener = subscribe(self.config)
        scheduler = None
        if self.run_job:
            scheduler = BackgroundScheduler(timezone="UTC")
            scheduler.add_job(
                self.run_once,
                "interval",
                seconds=INTERVAL_SECONDS,
                args=[engine],
                max_instances=1,
                coalesce=True,
            )
            scheduler.start()

        def stop() -> None:
            unsubscribe(listener)
            if scheduler is not None:
                scheduler.shutdown(wait=True)

        return stop


def prepare(settings: CollectorSettings) -> Notifications:
    """Load the notifications file named by the settings (a bad file stops the start-up)."""
    config = load_notify_config(settings.notify_config)
    # Without a file there is no provider to send with: messages just wait in the outbox.
    return Notifications(
        config, build_providers(config), run_job=settings.notify_config is not None
    )
