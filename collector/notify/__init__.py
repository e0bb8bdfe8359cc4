"""Notifications of verdicts: contacts, routing, an idempotent outbox, office-hour and cap
policy for SMS, providers (Alibaba Cloud SMS, Tencent Cloud SMS, SMTP, DingTalk, WeCom) and
the dispatch job. See docs/notifications.md.

- :func:`enqueue_for_verdicts` — verdict dicts -> outbox rows (idempotent).
- :func:`dispatch_due` / :func:`collect_receipts` — send what is due; store delivery reports.
- :func:`subscribe` (collector.notify.subscription) — enqueue on the engine's new verdicts.
"""

from .config import NotifyConfig, RetryPolicy, load_notify_config, parse_notify_config
from .contacts import Contact, add_contact, list_contacts, recipients
from .dispatch import DispatchSummary, collect_receipts, dispatch_due
from .errors import ContactError, NotifyConfigError, NotifyError, ProviderError
from .outbox import STATES, count_by_state, enqueue_for_verdicts, list_outbox
from .policy import BEIJING, SmsPolicy
from .templates import Templates, load_templates, parse_templates

__all__ = [
    "BEIJING",
    "STATES",
    "Contact",
    "ContactError",
    "DispatchSummary",
    "NotifyConfig",
    "NotifyConfigError",
    "NotifyError",
    "ProviderError",
    "RetryPolicy",
    "SmsPolicy",
    "Templates",
    "add_contact",
    "collect_receipts",
    "count_by_state",
    "dispatch_due",
    "enqueue_for_verdicts",
    "list_contacts",
    "list_outbox",
    "load_notify_config",
    "load_templates",
    "parse_notify_config",
    "parse_templates",
    "recipients",
]
