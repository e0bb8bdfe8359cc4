"""Exceptions of the agent.

AgentError                 base of everything the agent raises
├── ConfigError            the config or mapping file is wrong (names the key and a fix)
├── SourceError            the legacy database (pyodbc.Error converted where it enters)
├── MappingError           a mapping rule cannot be applied to a row
├── OutboxError            the local buffer (SQLite) cannot be read or written
│   └── OutboxFull         size bound or disk reserve reached: polling pauses
├── PushError              delivery failed and will be retried (network, 5xx)
│   └── PushRefused        the collector refused the whole envelope (4xx); not retried blindly
└── EnrolError             enrolment with the collector failed
"""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error the agent raises."""


class ConfigError(AgentError):
    """The configuration or mapping file is invalid."""


class SourceError(AgentError):
    """Reading the legacy database failed."""


class MappingError(AgentError):
    """A mapping rule could not be applied."""


class OutboxError(AgentError):
    """The local outbox cannot be used."""


class OutboxFull(OutboxError):
    """The outbox reached its size bound or the disk its reserve."""


class PushError(AgentError):
    """Delivery to the collector failed; retried with backoff."""


class PushRefused(PushError):
    """The collector refused the envelope as a whole (4xx)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"collector refused the request ({status} {code}): {message}")
        self.status = status
        self.code = code


class EnrolError(AgentError):
    """Enrolment with the collector failed."""
