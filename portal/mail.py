"""Mail that really leaves: the sender of the outbox (portal.domain.outbox).

``send_due(app)`` delivers one batch of due messages and returns a ``Batch``
(how many were sent, will be retried, failed for good); ``flask --app portal
send-mail`` runs one, ``send-mail --loop`` runs them until stopped, and
``make run`` runs them in a thread of the dev server (MAIL_SEND_IN_PROCESS).

**Why the standard library** (``email.message.EmailMessage`` and
``smtplib``), not Flask-Mailman: it would be a new dependency, and it adds
nothing the outbox needs. The outbox already decides what to send, when, and
how often to retry; what is left is one plain-text message and one SMTP
conversation, which is what smtplib is, and the sender must tell a refused
recipient (fail for good) from a server that is down (retry), which smtplib's
own exceptions say directly.

**No transaction is open during an SMTP conversation.** A batch goes in three
steps:

1. *Claim*, in one short writer transaction: the due rows (unsent, not failed,
   ``next_attempt_at <= now``), longest waiting first, at most
   MAIL_BATCH_SIZE, locked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (a second
   sender skips them instead of waiting, and gets the next ones); on SQLite the
   writer transaction's ``BEGIN IMMEDIATE`` holds the one write lock. Each row
   gets ``attempts + 1`` and ``next_attempt_at`` pushed past the longest the
   batch can take (its lease: MAIL_TIMEOUT for every step of every
   conversation, and a minute), so no other sender picks it up meanwhile. Commit.
2. *Deliver*, holding nothing in the database: one SMTP connection for the batch.
3. *Record* each outcome as soon as it is known, in a short transaction of its
   own that changes the row only if it is still the claim this sender made (same
   ``attempts``, still unsent): sent (``sent_at``, and the body blanked: it holds
   a live single-use link, and the recipient has it now), or failed (the error on
   one line, without the password, and the next try ``30 s * 2**(attempts - 1)``
   later, at most an hour), or failed for good after MAIL_MAX_ATTEMPTS tries or at
   once for a permanent refusal (a recipient refused with 5xx, a message refused
   with 5xx): it stays listed by ``flask --app portal outbox`` with its error.

A sender asked to stop (``send-mail --loop`` on SIGTERM) finishes the message in
hand and hands the rest of its batch back: due at once, their attempt uncounted.

So a message is sent at least once and, but for one case, exactly once: a sender
killed between the server's "250 OK" and step 3 sends that message again when its
lease runs out (SMTP cannot be asked whether a message arrived). The
Message-ID is the same each time, so a mail program can tell the copies apart.
A sender killed anywhere else loses nothing: the claimed rows wait for their
lease, with the attempt counted, so a message that kills senders fails for good
in the end.

Retried, not failed at once: a server down, refusing connections or timing out,
a 4xx answer, and a refused sender or login (a configuration error would
otherwise fail every queued mail for good; fix it, and they go).

With no MAIL_SERVER, the "console" backend prints each message in full on stderr
(the terminal of ``make run``), links included, and marks it sent.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Protocol

from flask import Flask
from sqlalchemy import exists, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from portal.domain.models import OutboxMessage
from portal.infra import clock, db
from portal.infra.config import MAIL_SECURITIES

log = logging.getLogger("portal.mail")

#: The wait after a message's first failure; it doubles with each one after.
FIRST_RETRY = timedelta(seconds=30)
#: The longest wait between two tries.
LONGEST_RETRY = timedelta(hours=1)
#: Longest error kept and shown, in characters.
ERROR_LENGTH = 500
# SMTP commands a connection takes before its first message (connect, EHLO,
# STARTTLS, EHLO, AUTH), and at most per message (MAIL, RCPT, DATA, the data,
# RSET): each may take MAIL_TIMEOUT.
_SETUP_STEPS = 5
_STEPS_PER_MESSAGE = 5


@dataclass(frozen=True)
class Batch:
    """What one batch did: messages sent, to be retried, failed for good."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def claimed(self) -> int:
        """How many messages the batch took."""
        return self.sent + self.retrying + self.failed

    def __add__(self, other: Batch) -> Batch:
        return Batch(
            self.sent + other.sent,
            self.retrying + other.retrying,
            self.failed + other.failed,
        )

    def __str__(self) -> str:
        return (
            f"Sent {self.sent}, will retry {self.retrying},"
            f" failed for good {self.failed}."
        )


@dataclass(frozen=True)
class Settings:
    """How mail leaves, read from the app's MAIL_* settings."""

    server: str | None
    port: int
    security: str
    username: str | None
    password: str | None
    sender: str
    timeout: float
    ca_file: str | None
    batch_size: int
    max_attempts: int

    @classmethod
    def of(cls, app: Flask) -> Settings:
        """app's mail settings (checked when the app was made)."""
        config = app.config
        security = config["MAIL_SECURITY"]
        return cls(
            server=config["MAIL_SERVER"] or None,
            port=config["MAIL_PORT"] or MAIL_SECURITIES[security],
            security=security,
            username=config["MAIL_USERNAME"] or None,
            password=config["MAIL_PASSWORD"] or None,
            sender=config["MAIL_FROM"],
            timeout=float(config["MAIL_TIMEOUT"]),
            ca_file=config["MAIL_CA_FILE"] or None,
            batch_size=int(config["MAIL_BATCH_SIZE"]),
            max_attempts=int(config["MAIL_MAX_ATTEMPTS"]),
        )

    @property
    def where(self) -> str:
        """The server, as errors and the logs name it."""
        return f"{self.server}:{self.port}" if self.server else "the console"

    def lease(self, messages: int) -> timedelta:
        """How long a batch of messages may take at most, and a minute."""
        steps = _SETUP_STEPS + _STEPS_PER_MESSAGE * messages
        return timedelta(seconds=self.timeout * steps + 60)


@dataclass(frozen=True)
class Claim:
    """A claimed message, copied out of its row (no session needed to send it)."""

    id: int
    kind: str
    to: str
    subject: str
    body: str
    attempts: int
    created_at: datetime


class Failure(Exception):
    """A message that was not sent: permanent or to be retried, said in one line."""

    def __init__(self, text: str, *, permanent: bool, broken: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.permanent = permanent
        # The connection cannot be used again (the next message opens one).
        self.broken = broken


class Connection(Protocol):
    """An open way out for messages."""

    def send(self, message: EmailMessage) -> None:
        """Deliver message, or raise."""

    def close(self) -> None:
        """Say goodbye (never raises)."""


# --- a batch ----------------------------------------------------------------


def send_due(app: Flask, stop: threading.Event | None = None) -> Batch:
    """Deliver one batch of due messages; what happened to them.

    Safe to call from several processes or threads at once: a message is
    claimed by one of them only. Works inside or outside an app context. Once
    stop is set, the message in hand is finished and the rest of the batch is
    handed back untried (due at once, no attempt counted).
    """
    with app.app_context():
        settings = Settings.of(app)
        claims = _claim(app, settings)
        if not claims:
            return Batch()
        return _deliver(app, settings, claims, stop or threading.Event())


def _claim(app: Flask, settings: Settings) -> list[Claim]:
    """Claim the due messages (see the module's docstring), in a transaction
    that ends before anything is sent."""
    now = clock.now()
    due = (
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.failed_at.is_(None),
        OutboxMessage.next_attempt_at <= now,
    )
    bind = db.engine(app)
    # A read first: an idle sender polling every second takes no write lock
    # (on SQLite the whole database's).
    with Session(bind) as session:
        if not session.scalar(select(exists().where(*due))):
            return []
    with db.writer_session(bind) as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(*due)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(settings.batch_size)
            # PostgreSQL: another sender skips these rows rather than waiting
            # for them (SQLite renders nothing: BEGIN IMMEDIATE serialises).
            .with_for_update(skip_locked=True)
        ).all()
        until = now + settings.lease(len(rows))
        claims = []
        for row in rows:
            row.attempts += 1
            row.next_attempt_at = until
            claims.append(
                Claim(
                    id=row.id,
                    kind=row.kind,
                    to=row.to_address,
                    subject=row.subject,
                    body=row.body,
                    attempts=row.attempts,
                    created_at=clock.as_utc(row.created_at),
                )
            )
    return claims


def _deliver(
    app: Flask, settings: Settings, claims: Sequence[Claim], stop: threading.Event
) -> Batch:
    """Send the claimed messages on one connection, recording each outcome."""
    batch = Batch()
    connection: Connection | None = None
    try:
        for index, claim in enumerate(claims):
            if stop.is_set():
                _release(app, claims[index:])
                return batch
            if connection is None:
                try:
                    connection = _connect(settings)
                except Failure as failure:
                    # The server is away: the rest of the batch waits too.
                    for rest in claims[index:]:
                        batch += _record_failure(app, settings, rest, failure)
                    return batch
            try:
                connection.send(_message(settings, claim))
            except Failure as failure:
                batch += _record_failure(app, settings, claim, failure)
                if failure.broken:
                    connection.close()
                    connection = None
            else:
                batch += _record_sent(app, settings, claim)
    finally:
        if connection is not None:
            connection.close()
    return batch


def _release(app: Flask, claims: Sequence[Claim]) -> None:
    """Hand claims back untried: due now, their attempt not counted."""
    with db.writer_session(db.engine(app)) as session:
        for claim in claims:
            _still_ours(
                session,
                claim,
                attempts=claim.attempts - 1,
                next_attempt_at=clock.now(),
            )


def _record_sent(app: Flask, settings: Settings, claim: Claim) -> Batch:
    """Mark claim sent and blank its body (the recipient has the link now)."""
    with db.writer_session(db.engine(app)) as session:
        _still_ours(session, claim, sent_at=clock.now(), body="", last_error=None)
    log.info(
        "mail %s: id=%s kind=%s attempt=%s via=%s",
        "sent" if settings.server else "printed, not sent (no mail server)",
        claim.id,
        claim.kind,
        claim.attempts,
        settings.where,
    )
    return Batch(sent=1)


def _record_failure(
    app: Flask, settings: Settings, claim: Claim, failure: Failure
) -> Batch:
    """Record failure on claim: retried after a backoff, or failed for good."""
    now = clock.now()
    error = _one_line(failure.text, settings.password)
    final = failure.permanent or claim.attempts >= settings.max_attempts
    with db.writer_session(db.engine(app)) as session:
        if final:
            _still_ours(session, claim, failed_at=now, last_error=error)
        else:
            retry_at = now + backoff(claim.attempts)
            _still_ours(session, claim, next_attempt_at=retry_at, last_error=error)
    log.warning(
        "mail %s: id=%s kind=%s attempt=%s via=%s error=%s",
        "failed for good" if final else "failed, will retry",
        claim.id,
        claim.kind,
        claim.attempts,
        settings.where,
        error,
    )
    return Batch(failed=1) if final else Batch(retrying=1)


def _still_ours(session: Session, claim: Claim, **values: Any) -> None:
    """Set values on claim's row if it is still the claim this sender made."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == claim.id,
            OutboxMessage.attempts == claim.attempts,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.failed_at.is_(None),
        )
        .values(**values)
    )


def backoff(attempts: int) -> timedelta:
    """The wait after a message's attempts-th failure: 30 s, doubling, at most
    an hour."""
    if attempts > 20:  # 2**20 * 30 s is far past the cap already
        return LONGEST_RETRY
    wait: timedelta = FIRST_RETRY * 2 ** max(attempts - 1, 0)
    return min(wait, LONGEST_RETRY)


def _one_line(text: str, password: str | None) -> str:
    """text on one line, without the password, at most ERROR_LENGTH characters."""
    if password:
        text = text.replace(password, "***")
    line = " ".join(text.split())
    return line if len(line) <= ERROR_LENGTH else line[: ERROR_LENGTH - 1] + "…"


# --- the message ------------------------------------------------------------


def _message(settings: Settings, claim: Claim) -> EmailMessage:
    """claim as a plain-text mail (From, To, Subject, Date, Message-ID)."""
    message = EmailMessage()
    try:
        message["From"] = settings.sender
        message["To"] = claim.to
        message["Subject"] = claim.subject
    except (ValueError, TypeError) as error:  # enqueue refused these already
        raise Failure(
            f"cannot be written as a mail: {error}", permanent=True
        ) from error
    message["Date"] = format_datetime(clock.now())
    # The same for every try of this message, so copies sent twice (see the
    # docstring) are recognisable as one.
    domain = parseaddr(settings.sender)[1].rpartition("@")[2] or "localhost"
    stamp = claim.created_at.strftime("%Y%m%d%H%M%S")
    message["Message-ID"] = f"<outbox-{claim.id}-{stamp}@{domain}>"
    # RFC 3834: sent by a program, so auto-responders stay quiet.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(claim.body)
    return message


# --- ways out ---------------------------------------------------------------


def _connect(settings: Settings) -> Connection:
    """A connection to the server (logged in if asked), or to the console."""
    if settings.server is None:
        return _Console()
    return _Smtp.open(settings)


# What a reader of the console needs not see: how the body is encoded.
_MIME_HEADERS = {"Content-Type", "Content-Transfer-Encoding", "MIME-Version"}


class _Console:
    """The backend without a server: print each message in full on stderr."""

    def send(self, message: EmailMessage) -> None:
        """Print message: its headers, then its body as written (links intact)."""
        head = "\n".join(
            f"{name}: {value}"
            for name, value in message.items()
            if name not in _MIME_HEADERS
        )
        body = message.get_content().rstrip("\n")
        rule = "-" * 24
        print(
            f"{rule} mail (no PORTAL_MAIL_SERVER: printed, not sent) {rule}\n"
            f"{head}\n\n{body}\n{rule} end of mail {rule}",
            file=sys.stderr,
            flush=True,
        )

    def close(self) -> None:
        """Nothing to close."""


class _Smtp:
    """One SMTP connection: plain, upgraded with STARTTLS, or TLS from the start."""

    def __init__(self, client: smtplib.SMTP, settings: Settings) -> None:
        self._client = client
        self._settings = settings

    @classmethod
    def open(cls, settings: Settings) -> _Smtp:
        """Connect (and log in, if a username is set); Failure (retried) if not."""
        assert settings.server is not None
        client: smtplib.SMTP | None = None
        try:
            # Inside the try: a missing or broken MAIL_CA_FILE is an OSError
            # too, recorded on the message like any other failure to connect.
            context = ssl.create_default_context(cafile=settings.ca_file)
            if settings.security == "tls":
                client = smtplib.SMTP_SSL(
                    settings.server,
                    settings.port,
                    timeout=settings.timeout,
                    context=context,
                )
            else:
                client = smtplib.SMTP(
                    settings.server, settings.port, timeout=settings.timeout
                )
                if settings.security == "starttls":
                    client.starttls(context=context)
            if settings.username and settings.password:
                client.login(settings.username, settings.password)
        except (OSError, smtplib.SMTPException) as error:
            if client is not None:
                _quietly(client.close)
            raise Failure(
                f"{settings.where}: {_described(error)}", permanent=False
            ) from error
        return cls(client, settings)

    def send(self, message: EmailMessage) -> None:
        """Deliver message; Failure, permanent for a 5xx refusal of this message."""
        try:
            self._client.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            raise Failure(
                f"recipient refused: {_described(error)}",
                permanent=all(code >= 500 for code in codes),
            ) from error
        except smtplib.SMTPDataError as error:
            raise Failure(
                f"message refused: {_described(error)}",
                permanent=error.smtp_code >= 500,
            ) from error
        except smtplib.SMTPNotSupportedError as error:
            # An address that needs SMTPUTF8, which the server lacks.
            raise Failure(
                f"{self._settings.where}: {_described(error)}", permanent=True
            ) from error
        except smtplib.SMTPResponseException as error:
            # A 4xx, or a refused sender: retried on this connection.
            raise Failure(
                f"{self._settings.where}: {_described(error)}", permanent=False
            ) from error
        except (OSError, smtplib.SMTPException) as error:
            raise Failure(
                f"{self._settings.where}: {_described(error)}",
                permanent=False,
                broken=True,
            ) from error

    def close(self) -> None:
        """QUIT, or just close when the server has gone."""
        try:
            self._client.quit()
        except (OSError, smtplib.SMTPException):
            _quietly(self._client.close)


def _quietly(action: Callable[[], object]) -> None:
    """Run action, ignoring a network error (closing what is gone)."""
    with suppress(OSError):
        action()


def _described(error: BaseException) -> str:
    """An SMTP or network error in words: the server's code and answer, or what
    went wrong ("timed out", "Connection refused")."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{address}: {code} {_text(answer)}"
            for address, (code, answer) in error.recipients.items()
        )
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    if isinstance(error, TimeoutError) or isinstance(error.__context__, TimeoutError):
        # smtplib words a timeout while reading as "Connection unexpectedly closed".
        return "timed out"
    if isinstance(error, ConnectionError) and error.strerror:
        return f"{type(error).__name__}: {error.strerror}"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def _text(answer: bytes | str) -> str:
    """A server's answer as text."""
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer


# --- the outbox, listed -----------------------------------------------------


def outbox(session: Session, *, with_sent: bool = False) -> list[OutboxMessage]:
    """Queued and failed messages (and sent ones with with_sent), oldest first."""
    statement = select(OutboxMessage).order_by(OutboxMessage.id)
    if not with_sent:
        statement = statement.where(OutboxMessage.sent_at.is_(None))
    return list(session.scalars(statement))


def state(message: OutboxMessage) -> str:
    """queued, sent or failed."""
    if message.sent_at is not None:
        return "sent"
    if message.failed_at is not None:
        return "failed"
    return "queued"


# --- running ----------------------------------------------------------------


def run(
    app: Flask,
    stop: threading.Event,
    interval: float,
    report: Callable[[Batch], None] = lambda batch: None,
) -> None:
    """Send batches until stop is set: at once after a full batch, else every
    interval seconds. A database or other error is logged, and the loop goes on."""
    settings = Settings.of(app)
    if settings.server is None:
        log.warning(
            "no mail server set (PORTAL_MAIL_SERVER): mail is printed on stderr,"
            " not sent"
        )
    while not stop.is_set():
        try:
            batch = send_due(app, stop)
        except SQLAlchemyError as error:
            log.warning("mail sender: the database failed: %s", _database_error(error))
            batch = Batch()
        except Exception:
            log.exception("mail sender: unexpected error")
            batch = Batch()
        if batch.claimed:
            report(batch)
        if batch.claimed < settings.batch_size:
            stop.wait(interval)


def _database_error(error: SQLAlchemyError) -> str:
    """A database error's first line (the statement and parameters left out)."""
    orig = getattr(error, "orig", None)
    return (str(orig or error).strip().splitlines() or [type(error).__name__])[0]


def start_in_process(app: Flask) -> threading.Event:
    """Send app's mail from a daemon thread of this process, every MAIL_INTERVAL
    seconds (MAIL_SEND_IN_PROCESS: make run's dev server). It ends with the
    process, or when the event returned is set."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run,
        args=(app, stop, float(app.config["MAIL_INTERVAL"])),
        name="portal-mail",
        daemon=True,
    )
    app.extensions["portal.mail"] = (thread, stop)
    thread.start()
    return stop
