"""Exceptions of the notifications package.

NotifyError (a CollectorError)   base of everything collector.notify raises
├── NotifyConfigError            a bad notify TOML, template or routing (names the key and fix)
├── ContactError                 a contact that cannot be stored (bad phone, role, email)
└── ProviderError                a provider refused or could not be reached; ``retryable`` says
                                 whether trying again later can help (throttling, 5xx, network)
"""

from __future__ import annotations

from ..errors import CollectorError


class NotifyError(CollectorError):
    """Base of every error of collector.notify."""


class NotifyConfigError(NotifyError):
    """The notification configuration (routing, hours, templates, providers) is invalid."""


class ContactError(NotifyError):
    """A contact is invalid; the message says which field and how to fix it."""


class ProviderError(NotifyError):
    """A provider did not accept a message (or a receipt query)."""

    def __init__(self, provider: str, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(f"{provider}: {code}: {message}")
        self.provider = provider
        self.code = code
        self.retryable = retryable
