"""TLS to the collector: the configured CA is trusted, nothing else is; client certificates
are presented when configured."""

from __future__ import annotations

import ipaddress
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.config import CollectorSection
from agent.push import Pusher
from agent.state import Outbox, OutboxRecord
from agent.transport import build_client

from .agent_setup import enrolled, sb_records
from .fake_collector import FakeCollector, FakeCollectorServer


def _issue(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, issuer_key = issuer or (subject, key)
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(
    path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    cert_path, key_path = path.with_suffix(".crt"), path.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def pki(tmp_path: Path) -> dict[str, Path]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("esup test CA", ca_key, None, ca=True)
    issuer = (ca.subject, ca_key)
    server_key, client_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_crt, _ = _write(tmp_path / "ca", ca, ca_key)
    srv_crt, srv_key = _write(
        tmp_path / "server", _issue("collector", server_key, issuer, ca=False), server_key
    )
    cli_crt, cli_key = _write(
        tmp_path / "client", _issue("agent", client_key, issuer, ca=False), client_key
    )
    return {"ca": ca_crt, "server_crt": srv_crt, "server_key": srv_key,
            "client_crt": cli_crt, "client_key": cli_key}  # fmt: skip


def server_context(files: dict[str, Path], *, require_client: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(files["server_crt"], files["server_key"])
    if require_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(files["ca"])
    return ctx


def push_once(tmp_path: Path, fake: FakeCollector, section: CollectorSection) -> str | None:
    keys, enrolment = enrolled(tmp_path / "state", fake)
    with Outbox(tmp_path / "o.db") as outbox, build_client(section) as client:
        if outbox.stats()["pending"] == 0:
            outbox.commit_chunk("s", "t", [OutboxRecord.from_record(sb_records(1)[0])])
        return Pusher(outbox, keys, enrolment, client).push().error


def test_the_configured_ca_is_trusted_and_an_unknown_one_is_not(tmp_path: Path) -> None:
    files = pki(tmp_path)
    fake = FakeCollector()
    with FakeCollectorServer(fake, server_context(files, require_client=False)) as server:
        untrusted = CollectorSection(server.url, None, None, None, 5.0, "")
        error = push_once(tmp_path, fake, untrusted)
        assert error and "cannot reach the collector" in error and "CERTIFICATE_VERIFY" in error
        trusted = CollectorSection(server.url, files["ca"], None, None, 5.0, "")
        assert push_once(tmp_path, fake, trusted) is None
    assert len(fake.records) == 1


def test_a_client_certificate_is_presented_when_configured(tmp_path: Path) -> None:
    files = pki(tmp_path)
    fake = FakeCollector()
    with FakeCollectorServer(fake, server_context(files, require_client=True)) as server:
        without = CollectorSection(server.url, files["ca"], None, None, 5.0, "")
        assert push_once(tmp_path, fake, without) is not None
        with_cert = CollectorSection(
            server.url, files["ca"], files["client_crt"], files["client_key"], 5.0, ""
        )
        assert push_once(tmp_path, fake, with_cert) is None
    assert len(fake.records) == 1


def test_unreadable_tls_files_are_a_config_error(tmp_path: Path) -> None:
    import pytest

    from agent.errors import ConfigError

    section = CollectorSection("https://127.0.0.1:1", tmp_path / "nope.pem", None, None, 5.0, "")
    with pytest.raises(ConfigError, match="ca_file"):
        build_client(section)
