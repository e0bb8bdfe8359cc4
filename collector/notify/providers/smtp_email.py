"""Email over SMTP (smtplib), optionally with STARTTLS and login."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from typing import Any

from ..errors import NotifyConfigError, ProviderError
from .base import Outgoing, SendResult


@dataclass
class SmtpEmail:
    host: str
    sender: str
    port: int = 25
    starttls: bool = False
    username: str = ""
    password: str = ""
    sender_name: str = "电子监察系统"
    timeout: float = 30.0
    #: CA bundle to trust for STARTTLS (None: the system's).
    cafile: str | None = None
    name: str = field(default="smtp")

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> SmtpEmail:
        if not table.get("host") or not table.get("sender"):
            raise NotifyConfigError(
                '[email] needs host = "smtp.example.gov.cn" and sender = "jiancha@..."'
            )
        return cls(
            host=str(table["host"]),
            sender=str(table["sender"]),
            port=int(table.get("port", 25)),
            starttls=bool(table.get("starttls", False)),
            username=str(table.get("username", "")),
            password=str(table.get("password", "")),
            sender_name=str(table.get("sender_name", "电子监察系统")),
            cafile=table.get("cafile"),
        )

    def build(self, message: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = Address(self.sender_name, addr_spec=self.sender)
        mail["To"] = message.address
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(idstring=f"esup-{message.id}")
        mail.set_content(message.body, charset="utf-8")
        return mail

    def send(self, message: Outgoing) -> SendResult:
        mail = self.build(message)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context(cafile=self.cafile))
                    smtp.ehlo()
                if self.username:
                    smtp.login(self.username, self.password)
                # mail/rcpt/data by hand: sendmail() drops the server's reply to DATA, and
                # that reply (often with the queue id) is our proof the server took it.
                code, reply = smtp.mail(self.sender)
                if code != 250:
                    raise smtplib.SMTPSenderRefused(code, reply, self.sender)
                code, reply = smtp.rcpt(message.address)
                if code not in (250, 251):
                    raise smtplib.SMTPRecipientsRefused({message.address: (code, reply)})
                code, reply = smtp.data(mail.as_bytes(policy=SMTP_POLICY))
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            raise ProviderError(
                self.name, f"smtp_{exc.smtp_code}", text, retryable=400 <= exc.smtp_code < 500
            ) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _reply in exc.recipients.values()]
            raise ProviderError(
                self.name,
                "recipient_refused",
                str(exc.recipients),
                retryable=all(400 <= c < 500 for c in codes),  # 4xx: try later (greylisting)
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise ProviderError(
                self.name, "smtp", f"{self.host}:{self.port}: {exc}", retryable=True
            ) from exc
        return SendResult(
            self.name,
            str(mail["Message-ID"]),
            {"recipient": message.address, "data_reply": [code, reply.decode("utf-8", "replace")]},
        )
