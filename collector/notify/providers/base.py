"""What every provider takes and gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Outgoing:
    """One outbox row as a provider sees it."""

    id: int
    channel: str  # sms | email | bot
    address: str  # E.164 phone, email address or bot name
    kind: str  # verdict kind: picks the provider's template
    subject: str
    body: str
    params: list[tuple[str, str]]  # ordered template parameters
    sent_at: datetime | None = None
    message_id: str | None = None


@dataclass(frozen=True)
class SendResult:
    provider: str
    message_id: str
    response: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Receipt:
    """A delivery report: ``status`` is delivered or undelivered."""

    message_id: str
    status: str
    at: datetime | None
    raw: dict[str, Any]


class Provider(Protocol):
    name: str

    def send(self, message: Outgoing) -> SendResult:
        """Send or raise ProviderError (``retryable`` when trying later may help)."""
        ...


class SmsProvider(Provider, Protocol):
    def receipts(self, sent: list[Outgoing]) -> list[Receipt]:
        """Delivery reports known for ``sent`` (messages still in flight are left out)."""
        ...


@dataclass
class Providers:
    """The configured providers: one SMS gateway, one mail server, any number of bots."""

    sms: SmsProvider | None = None
    email: Provider | None = None
    bots: dict[str, Provider] = field(default_factory=dict)

    def for_message(self, message: Outgoing) -> Provider | None:
        if message.channel == "sms":
            return self.sms
        if message.channel == "email":
            return self.email
        return self.bots.get(message.address)
