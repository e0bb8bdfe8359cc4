"""Email through a real SMTP server (aiosmtpd) on 127.0.0.1: subject, Chinese body,
recipients as received by the server."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy import Engine, select

from collector.clock import WorkCalendar
from collector.notify import ProviderError, dispatch_due, enqueue_for_verdicts, parse_notify_config
from collector.notify.providers import SmtpEmail, build_providers
from collector.notify.providers.base import Outgoing
from collector.store.tables import notify_outbox

from .conftest import People, beijing, verdict


class Mailbox:
    def __init__(self, refuse: str | None = None) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.refuse = refuse

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse and address == self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)  # type: ignore[arg-type]
        assert isinstance(parsed, EmailMessage)
        self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox(refuse="nobody@example.gov.cn")
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


def test_a_red_card_email_arrives_with_chinese_subject_and_body(
    engine: Engine, people: People, calendar: WorkCalendar, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    config = parse_notify_config(
        {
            "routing": {
                "red": [
                    {"roles": ["department_leader", "bureau_supervisor"], "channels": ["email"]}
                ]
            },
            "email": {"host": "127.0.0.1", "port": port, "sender": "jiancha@jcj.example.gov.cn"},
        },
        "test",
    )
    # email is not held to office hours: 22:00 on a holiday is fine
    night = beijing("2026-10-03 22:00")
    with engine.begin() as conn:
        enqueue_for_verdicts(conn, [verdict(kind="red")], night, config)
    summary = dispatch_due(engine, build_providers(config), night, calendar=calendar, config=config)
    assert summary.sent == 2
    assert sorted(rcpts[0] for _f, rcpts, _m in mailbox.messages) == [
        "qian@jcj.example.gov.cn",
        "zhao@example.gov.cn",
    ]
    sender, _rcpts, message = mailbox.messages[0]
    assert sender == "jiancha@jcj.example.gov.cn"
    assert message["Subject"] == "【电子监察】红牌：办件SB-0001超过法定期限"
    assert "电子监察系统" in message["From"]
    body = message.get_content()
    assert "市市场监督管理局办理的办件SB-0001已超过法定期限2026-12-20" in body
    with engine.connect() as conn:
        rows = conn.execute(select(notify_outbox)).all()
    assert {r.state for r in rows} == {"sent"}
    assert {tuple(r.provider_response["data_reply"]) for r in rows} == {
        (250, "Message accepted for delivery")
    }
    assert {r.provider_message_id for r in rows} == {
        str(m["Message-ID"]) for _f, _r, m in mailbox.messages
    }


def test_a_refused_recipient_is_not_retried(smtp_server: tuple[Mailbox, int]) -> None:
    _mailbox, port = smtp_server
    email = SmtpEmail(host="127.0.0.1", port=port, sender="jiancha@jcj.example.gov.cn")
    message = Outgoing(
        id=1,
        channel="email",
        address="nobody@example.gov.cn",
        kind="red",
        subject="红牌",
        body="正文",
        params=[],
    )
    with pytest.raises(ProviderError) as info:
        email.send(message)
    assert not info.value.retryable and "550" in str(info.value)


def test_an_unreachable_server_is_retryable() -> None:
    email = SmtpEmail(host="127.0.0.1", port=free_port(), sender="jiancha@jcj.example.gov.cn")
    message = Outgoing(
        id=1,
        channel="email",
        address="zhao@example.gov.cn",
        kind="red",
        subject="红牌",
        body="正文",
        params=[],
    )
    with pytest.raises(ProviderError) as info:
        email.send(message)
    assert info.value.retryable


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1, trusted by the client through cafile."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_starttls_is_used_when_configured_and_the_server_requires_it(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        message = Outgoing(
            id=3,
            channel="email",
            address="zhao@example.gov.cn",
            kind="yellow",
            subject="黄牌",
            body="请整改。",
            params=[],
        )
        plain = SmtpEmail(host="127.0.0.1", port=port, sender="jiancha@jcj.example.gov.cn")
        with pytest.raises(ProviderError):
            plain.send(message)  # the server insists on STARTTLS first
        assert mailbox.messages == []
        secure = SmtpEmail(
            host="127.0.0.1",
            port=port,
            sender="jiancha@jcj.example.gov.cn",
            starttls=True,
            cafile=str(cert),
        )
        secure.send(message)
    finally:
        controller.stop()
    ((_sender, rcpts, received),) = mailbox.messages
    assert rcpts == ["zhao@example.gov.cn"] and received.get_content().strip() == "请整改。"
