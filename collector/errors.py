"""Exceptions of the collector.

CollectorError             base of everything the collector raises
├── SettingsError          unsafe or unknown settings (names the key and a fix)
├── StoreError             the database (SQLAlchemy errors converted where they enter)
├── IngestRefused          an envelope refused as a whole (status, code, bilingual words)
│   └── AgentRevoked       the agent may send nothing more: answered with a signed refusal
├── EnrolmentError         a token that is unknown, used or expired; a revoked or unknown agent
└── OperatorError          a bureau command that cannot be done (register, case move, withdraw)

IngestRefused and EnrolmentError carry a stable ``code`` and Chinese and English words; the
one exception handler in :mod:`collector.api.refusals` turns them into
:func:`exchange_spec.protocol.error_body` JSON, and the CLI prints them.
"""

from __future__ import annotations


class CollectorError(Exception):
    """Base of every error the collector raises."""


class SettingsError(CollectorError):
    """The collector's settings are invalid or unsafe."""


class StoreError(CollectorError):
    """The store could not be read or written."""


class IngestRefused(CollectorError):
    """An envelope refused as a whole, with an HTTP status and bilingual words."""

    def __init__(
        self, status: int, code: str, message_zh: str, message_en: str, hint: str = ""
    ) -> None:
        super().__init__(f"{code}: {message_en}")
        self.status = status
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.hint = hint


class AgentRevoked(IngestRefused):
    """A revoked agent's envelope: the answer carries a refusal signed by the collector for
    this manifest, the only 4xx on which an agent stops sending."""

    def __init__(
        self, agent_id: str, manifest: dict[str, object], message_zh: str, message_en: str
    ) -> None:
        super().__init__(
            403,
            "agent_revoked",
            message_zh,
            message_en,
            "ask the supervision bureau for a new enrolment token and enrol again",
        )
        self.agent_id = agent_id
        self.manifest = manifest


class EnrolmentError(CollectorError):
    """Enrolment could not be completed, or an agent is unknown or revoked."""

    def __init__(
        self,
        code: str,
        message_zh: str,
        message_en: str,
        hint: str = "",
        status: int = 403,
    ) -> None:
        super().__init__(f"{code}: {message_en}")
        self.status = status
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.hint = hint


class OperatorError(CollectorError):
    """A bureau operator's command that cannot be done as asked, with bilingual words."""

    def __init__(self, message_zh: str, message_en: str, hint: str = "") -> None:
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.hint = hint
