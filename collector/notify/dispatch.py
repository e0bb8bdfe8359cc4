"""Send what is due in the outbox, and collect delivery receipts.

A message is claimed (state ``sending``) in one short transaction and sent after it commits,
so a slow gateway never holds locks. On PostgreSQL the claim uses FOR UPDATE SKIP LOCKED: two
collectors running ``dispatch_due`` at once take different rows. SQLite has a single writer
(BEGIN IMMEDIATE), which serialises claims the same way. A process that dies between claim
and answer leaves the row in ``sending``: it is not retried by itself, because SMS gateways
are not idempotent and a second text is worse than an operator looking (``notify list``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from ..clock import WorkCalendar
from ..store.tables import notify_outbox, verdict_withdrawals
from .config import NotifyConfig
from .errors import ProviderError
from .policy import beijing_day_bounds
from .providers.base import Outgoing, Providers

log = logging.getLogger(__name__)
RECEIPT_WINDOW = timedelta(days=7)  # gateways keep delivery reports for about a week


@dataclass
class DispatchSummary:
    sent: int = 0
    deferred: int = 0
    retrying: int = 0
    failed: int = 0
    no_provider: int = 0


def _outgoing(row: Any) -> Outgoing:
    return Outgoing(
        id=int(row.id),
        channel=row.channel,
        address=row.address,
        kind=row.kind,
        subject=row.subject,
        body=row.body,
        params=[(str(p[0]), str(p[1])) for p in row.params or []],
        sent_at=row.sent_at.replace(tzinfo=UTC)
        if row.sent_at and not row.sent_at.tzinfo
        else row.sent_at,
        message_id=row.provider_message_id,
    )


def _claim(
    engine: Engine,
    providers: Providers,
    now: datetime,
    calendar: WorkCalendar,
    config: NotifyConfig,
    limit: int,
    summary: DispatchSummary,
) -> list[Outgoing]:
    c = notify_outbox.c
    policy = config.sms_policy
    claimed: list[Outgoing] = []
    with engine.begin() as conn:
        due = conn.execute(
            select(notify_outbox)
            .where(c.state.in_(("pending", "deferred")), c.next_attempt_at <= now)
            .order_by(c.next_attempt_at, c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
        ).all()
        withdrawn = _withdrawn(conn, [r.verdict_id for r in due])
        for row in due:
            message = _outgoing(row)
            update: dict[str, Any]
            if row.verdict_id in withdrawn:
                summary.failed += 1
                update = {
                    "state": "failed",
                    "last_error": "verdict withdrawn after reassessment: not sent / "
                    "监察结论已撤销，不再发送",
                }
            elif providers.for_message(message) is None:
                summary.no_provider += 1
                update = {
                    "state": "pending",
                    "next_attempt_at": now + timedelta(seconds=config.retry.max_seconds),
                    "last_error": f"no provider configured for {row.channel} {row.address}: "
                    "add it to the notifications file / 通知配置中缺少该渠道的发送方式",
                }
            elif row.channel == "sms" and (allowed := policy.next_allowed(now, calendar)) > now:
                summary.deferred += 1
                update = {
                    "state": "deferred",
                    "next_attempt_at": allowed.astimezone(UTC),
                    "deferred_reason": "outside_hours",
                }
            elif row.channel == "sms" and _sent_today(conn, row.address, now) >= policy.daily_cap:
                # rows claimed above in this transaction are already 'sending' and counted
                summary.deferred += 1
                update = {
                    "state": "deferred",
                    "next_attempt_at": policy.next_day_start(now, calendar).astimezone(UTC),
                    "deferred_reason": "daily_cap",
                }
            else:
                update = {"state": "sending", "claimed_at": now, "attempts": row.attempts + 1}
                claimed.append(message)
            conn.execute(notify_outbox.update().where(c.id == row.id).values(**update))
    return claimed


def _withdrawn(conn: Any, verdict_ids: list[str | None]) -> set[str]:
    """Which of these verdicts a supervisor withdrew (their messages must not go out)."""
    ids = {int(v) for v in verdict_ids if v and v.isdigit()}
    if not ids:
        return set()
    found = conn.execute(
        select(verdict_withdrawals.c.verdict_id).where(verdict_withdrawals.c.verdict_id.in_(ids))
    )
    return {str(v) for (v,) in found}


def _sent_today(conn: Any, address: str, now: datetime) -> int:
    c = notify_outbox.c
    start, end = beijing_day_bounds(now)
    return int(
        conn.execute(
            select(func.count()).where(
                c.channel == "sms",
                c.address == address,
                c.state.in_(("sent", "sending")),
                c.claimed_at >= start.astimezone(UTC),
                c.claimed_at < end.astimezone(UTC),
            )
        ).scalar_one()
    )


def dispatch_due(
    engine: Engine,
    providers: Providers,
    now: datetime,
    *,
    calendar: WorkCalendar,
    config: NotifyConfig,
    limit: int = 200,
) -> DispatchSummary:
    """Send up to ``limit`` due messages; SMS outside office hours or over the daily cap are
    deferred, retryable failures wait with exponential backoff, others fail for good."""
    now = now.astimezone(UTC)
    summary = DispatchSummary()
    c = notify_outbox.c
    for message in _claim(engine, providers, now, calendar, config, limit, summary):
        provider = providers.for_message(message)
        assert provider is not None  # checked when claimed
        try:
            result = provider.send(message)
        except ProviderError as exc:
            with engine.begin() as conn:
                attempts = conn.execute(select(c.attempts).where(c.id == message.id)).scalar_one()
                again = exc.retryable and attempts < config.retry.max_attempts
                conn.execute(
                    notify_outbox.update()
                    .where(c.id == message.id)
                    .values(
                        state="pending" if again else "failed",
                        next_attempt_at=now + config.retry.delay(attempts),
                        provider=exc.provider,
                        last_error=str(exc),
                    )
                )
            if again:
                summary.retrying += 1
            else:
                summary.failed += 1
            log.warning("notification %s not sent: %s", message.id, exc)
            continue
        with engine.begin() as conn:
            conn.execute(
                notify_outbox.update()
                .where(c.id == message.id)
                .values(
                    state="sent",
                    sent_at=now,
                    provider=result.provider,
                    provider_message_id=result.message_id,
                    provider_response=result.response,
                    last_error=None,
                    deferred_reason=None,
                )
            )
        summary.sent += 1
    return summary


def collect_receipts(engine: Engine, providers: Providers, now: datetime) -> int:
    """Ask the SMS gateway for delivery reports of sent SMS that have none yet; store them
    on their outbox rows. Returns how many receipts were stored."""
    sms = providers.sms
    if sms is None:
        return 0
    now = now.astimezone(UTC)
    c = notify_outbox.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(notify_outbox).where(
                c.channel == "sms",
                c.state == "sent",
                c.provider == sms.name,
                c.receipt_status.is_(None),
                c.sent_at >= now - RECEIPT_WINDOW,
            )
        ).all()
    pending = [_outgoing(r) for r in rows]
    if not pending:
        return 0
    try:
        receipts = sms.receipts(pending)
    except ProviderError as exc:
        # Reports stay at the gateway for days: the next pass asks again.
        log.warning("delivery reports not fetched: %s", exc)
        return 0
    by_id = {m.message_id: m.id for m in pending}
    stored = 0
    with engine.begin() as conn:
        for receipt in receipts:
            row_id = by_id.get(receipt.message_id)
            if row_id is None:
                continue
            conn.execute(
                notify_outbox.update()
                .where(c.id == row_id)
                .values(
                    receipt_status=receipt.status,
                    receipt=receipt.raw,
                    receipt_at=(receipt.at or now).astimezone(UTC),
                )
            )
            stored += 1
    return stored
