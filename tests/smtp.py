"""A real SMTP server for tests: aiosmtpd on a free port of 127.0.0.1.

``smtp_server`` (a fixture, registered in conftest.py) collects what it
receives as ``email.message.EmailMessage`` objects; ``mail_settings()`` is the
app configuration that sends there. ``links_in(message)`` gives the links of a
received mail, to follow them::

    def test_x(app, smtp_server):
        app.config.update(smtp_server.mail_settings())
        ...  # something that enqueues a mail, then
        mail.send_due(app)
        [link] = links_in(smtp_server.wait_for(1)[0])

``refuse`` makes it answer a recipient with an error ("550 ..."), ``delay``
slows each message down. ``smtp_tls_server`` speaks STARTTLS (required) and
wants a login (USERNAME, PASSWORD); ``smtp_implicit_tls_server`` speaks TLS from
the start. Both use a throwaway self-signed certificate (``MAIL_CA_FILE``
trusts it); they are skipped when there is no openssl to make one.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

USERNAME = "portal-mailer"
PASSWORD = "correct horse battery staple"

LINK_RE = re.compile(r"https?://[^\s<>\"']+")


def links_in(message: EmailMessage) -> list[str]:
    """The links in message's plain-text body, in order."""
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage), "no plain-text body"
    return LINK_RE.findall(body.get_content())


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (just now)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Recorder:
    """aiosmtpd's handler: keeps each message, refuses the recipients asked."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    # Recipient -> the answer to RCPT TO ("550 5.1.1 No such user").
    refuse: dict[str, str] = field(default_factory=dict)
    # Seconds each message's DATA takes.
    delay: float = 0.0
    # Called (in the server's thread) when a message's data arrives.
    on_data: Callable[[], None] | None = None
    received: threading.Condition = field(default_factory=threading.Condition)

    async def handle_RCPT(
        self,
        server: Any,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Refuse address if asked, else accept it."""
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: Any, session: Session, envelope: Envelope
    ) -> str:
        """Keep the message."""
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.on_data is not None:
            self.on_data()
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes)
        # Lines end in CRLF on the wire; a mail program reads them as lines.
        raw = raw.replace(b"\r\n", b"\n")
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        with self.received:
            self.messages.append(message)
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
            self.received.notify_all()
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    """A running aiosmtpd server and what it received."""

    host: str
    port: int
    recorder: Recorder
    security: str = "none"
    ca_file: str | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        """What it received so far, in order."""
        with self.recorder.received:
            return list(self.recorder.messages)

    @property
    def refuse(self) -> dict[str, str]:
        return self.recorder.refuse

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages, once there are at least count (AssertionError if they
        do not come within timeout seconds)."""
        deadline = time.monotonic() + timeout
        with self.recorder.received:
            while len(self.recorder.messages) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.recorder.messages)} of {count} mails came"
                self.recorder.received.wait(left)
            return list(self.recorder.messages)

    def mail_settings(self) -> dict[str, Any]:
        """The app settings that send mail here."""
        settings: dict[str, Any] = {
            "MAIL_SERVER": self.host,
            "MAIL_PORT": self.port,
            "MAIL_SECURITY": self.security,
            "MAIL_TIMEOUT": 5.0,
        }
        if self.ca_file is not None:
            settings.update(
                MAIL_CA_FILE=self.ca_file,
                MAIL_USERNAME=USERNAME,
                MAIL_PASSWORD=PASSWORD,
            )
        return settings


def _authenticate(
    server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    """Accept USERNAME with PASSWORD only."""
    ok = (
        isinstance(data, LoginPassword)
        and data.login == USERNAME.encode()
        and data.password == PASSWORD.encode()
    )
    # handled=False: aiosmtpd answers a failure itself (535).
    return AuthResult(success=ok, handled=False)


def _serving(
    recorder: Recorder, security: str = "none", certificate: Path | None = None
) -> Iterator[SmtpServer]:
    """Run a server with recorder until the generator is closed."""
    port = free_port()
    options: dict[str, Any] = {}
    ca_file = None
    if certificate is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate, certificate.with_suffix(".key"))
        ca_file = str(certificate)
        options["authenticator"] = _authenticate
        if security == "tls":
            # aiosmtpd knows TLS only as STARTTLS's: with TLS from the start it
            # would not offer AUTH at all.
            options.update(ssl_context=context, auth_require_tls=False)
        else:
            options.update(tls_context=context, require_starttls=True)
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, recorder, security, ca_file)
    finally:
        controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server on a free port, collecting what it receives."""
    yield from _serving(Recorder())


@pytest.fixture(scope="session")
def smtp_certificate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A throwaway self-signed certificate for 127.0.0.1 (and its .key)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl to make a test certificate with")
    folder = tmp_path_factory.mktemp("smtp-tls")
    certificate = folder / "server.pem"
    subprocess.run(  # a fixed command of our own
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(certificate.with_suffix(".key")),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return certificate


@pytest.fixture
def smtp_tls_server(smtp_certificate: Path) -> Iterator[SmtpServer]:
    """A server that requires STARTTLS and a login (USERNAME, PASSWORD)."""
    yield from _serving(Recorder(), "starttls", smtp_certificate)


@pytest.fixture
def smtp_implicit_tls_server(smtp_certificate: Path) -> Iterator[SmtpServer]:
    """A server that speaks TLS from the first byte, and wants a login."""
    yield from _serving(Recorder(), "tls", smtp_certificate)
