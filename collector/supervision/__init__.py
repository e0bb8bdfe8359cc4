"""Supervision matters: card -> notice (督办通知书 / 整改建议书) -> reply (回告) -> closed or
escalated (officer -> department leader -> bureau). See docs/supervision-flow.md.

- :mod:`.matters` — :func:`open_matters_for`, replies, closing, appeals, history.
- :mod:`.escalation` — :func:`escalate_due` (also callable from the engine's sweep).
- :mod:`.documents` — the notice as HTML (Jinja2) and PDF (:mod:`.pdf`), stored by SHA-256.
- :mod:`.listener` — :func:`subscribe` to the engine's new verdicts.
"""

from collector.supervision.errors import (
    DocumentError,
    MatterNotFound,
    MatterStateError,
    SupervisionError,
)
from collector.supervision.escalation import Escalation, escalate_due
from collector.supervision.matters import (
    LEVELS,
    STATES,
    Matter,
    MatterEvent,
    MatterPolicy,
    close_matter,
    format_number,
    get_matter,
    list_matters,
    matter_events,
    open_matters_for,
    record_appeal,
    record_reply,
)

__all__ = [
    "LEVELS",
    "STATES",
    "DocumentError",
    "Escalation",
    "Matter",
    "MatterEvent",
    "MatterNotFound",
    "MatterPolicy",
    "MatterStateError",
    "SupervisionError",
    "close_matter",
    "escalate_due",
    "format_number",
    "get_matter",
    "list_matters",
    "matter_events",
    "open_matters_for",
    "record_appeal",
    "record_reply",
]
