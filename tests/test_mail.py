"""The mail sender (portal.mail) and its commands (send-mail, outbox), against
a real SMTP server (tests/smtp.py): what leaves, what is retried, what fails for
good, and that no message is sent twice or sent after a rollback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from portal import create_app, mail
from portal.domain import outbox
from portal.domain.models import OutboxMessage
from portal.infra import db
from portal.web.links import public_url
from tests.settings import app_settings
from tests.smtp import PASSWORD, SmtpServer, free_port, links_in

ROOT = Path(__file__).resolve().parents[1]
MOMENT = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


class Clock:
    """The app's clock, moved by hand."""

    def __init__(self, app: Flask) -> None:
        self.now = MOMENT
        app.config["CLOCK"] = lambda: self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(app: Flask) -> Clock:
    return Clock(app)


def queue(
    app: Flask,
    to: str = "ann@example.com",
    subject: str = "You are invited to The Beatles",
    body: str = "Hello Ann,\n\nOpen the link.\n",
    kind: str = "invitation",
) -> int:
    """Queue one mail, committed, as a request would; its id."""
    with app.app_context(), db.writer_session(db.engine(app)) as session:
        message = outbox.enqueue(session, kind=kind, to=to, subject=subject, body=body)
        session.flush()
        return message.id


def row(app: Flask, message_id: int) -> OutboxMessage:
    """The message's row as committed now."""
    with Session(db.engine(app), expire_on_commit=False) as session:
        found = session.get(OutboxMessage, message_id)
        assert found is not None
        session.expunge(found)
        return found


def at(value: datetime | None) -> datetime | None:
    """A stored time in UTC (SQLite's come back naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def closed_port() -> int:
    """A port of 127.0.0.1 that refuses connections."""
    return free_port()


@contextmanager
def never_answering_port() -> Iterator[int]:
    """A port of 127.0.0.1 that takes connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port: int = listener.getsockname()[1]
        yield port


# --- delivery ---------------------------------------------------------------


def test_send_due_delivers_over_smtp(app: Flask, smtp_server: SmtpServer) -> None:
    app.config.update(smtp_server.mail_settings(), MAIL_FROM="Portal <p@example.com>")
    with app.app_context():
        link = public_url("auth.login", next="/orgs/1")
    # A long line with a link: the wire may wrap it, the reader must get it whole.
    body = f"Hello Ann,\n\nJoin The Beatles on Portal: {link}&x={'y' * 80}\n"
    message_id = queue(app, subject="Ünïcode subject: you are invited", body=body)

    assert mail.send_due(app) == mail.Batch(sent=1)

    [received] = smtp_server.wait_for(1)
    assert received["To"] == "ann@example.com"
    assert received["From"] == "Portal <p@example.com>"
    assert received["Subject"] == "Ünïcode subject: you are invited"
    assert received["Message-ID"].startswith(f"<outbox-{message_id}-")
    assert received["Auto-Submitted"] == "auto-generated"
    assert received.get_content() == body
    assert links_in(received) == [f"{link}&x={'y' * 80}"]
    assert smtp_server.recorder.envelopes == [("p@example.com", ["ann@example.com"])]


def test_send_due_records_the_sending_and_blanks_the_body(
    app: Flask, smtp_server: SmtpServer, clock: Clock
) -> None:
    # why: the body holds a live single-use link; once the recipient has it,
    # the database need not keep it
    app.config.update(smtp_server.mail_settings())
    message_id = queue(app, body="Reset: http://127.0.0.1:5000/reset/secret-token\n")
    clock.advance(seconds=5)
    mail.send_due(app)
    sent = row(app, message_id)
    assert (sent.body, at(sent.sent_at), sent.attempts) == ("", clock.now, 1)
    assert sent.failed_at is None and sent.last_error is None
    assert mail.send_due(app) == mail.Batch()  # not sent twice
    assert len(smtp_server.messages) == 1


def test_send_due_sends_nothing_that_was_rolled_back(
    app: Flask, smtp_server: SmtpServer
) -> None:
    app.config.update(smtp_server.mail_settings())
    with (
        pytest.raises(RuntimeError),
        app.app_context(),
        db.writer_session(db.engine(app)) as session,
    ):
        outbox.enqueue(session, kind="invitation", to="a@b.c", subject="s", body="b")
        session.flush()
        raise RuntimeError("the change failed")
    assert mail.send_due(app) == mail.Batch()
    assert smtp_server.messages == []


def test_send_due_waits_for_a_message_that_is_not_due(
    app: Flask, smtp_server: SmtpServer, clock: Clock
) -> None:
    app.config.update(smtp_server.mail_settings())
    message_id = queue(app)
    with Session(db.engine(app)) as session, session.begin():
        found = session.get(OutboxMessage, message_id)
        assert found is not None
        found.next_attempt_at = clock.now + timedelta(minutes=1)
    assert mail.send_due(app) == mail.Batch()
    clock.advance(minutes=1)
    assert mail.send_due(app) == mail.Batch(sent=1)


def test_send_due_sends_oldest_first_in_bounded_batches(
    app: Flask, smtp_server: SmtpServer, clock: Clock
) -> None:
    app.config.update(smtp_server.mail_settings(), MAIL_BATCH_SIZE=2)
    ids = []
    for n in range(3):
        ids.append(queue(app, subject=f"mail {n}"))
        clock.advance(seconds=1)
    assert mail.send_due(app) == mail.Batch(sent=2)
    assert mail.send_due(app) == mail.Batch(sent=1)
    assert [m["Subject"] for m in smtp_server.messages] == [
        "mail 0",
        "mail 1",
        "mail 2",
    ]


def test_send_due_over_starttls_with_a_login(
    app: Flask, smtp_tls_server: SmtpServer
) -> None:
    app.config.update(smtp_tls_server.mail_settings())
    queue(app)
    assert mail.send_due(app) == mail.Batch(sent=1)
    assert smtp_tls_server.wait_for(1)[0]["To"] == "ann@example.com"


def test_send_due_over_tls_from_the_start(
    app: Flask, smtp_implicit_tls_server: SmtpServer
) -> None:
    app.config.update(smtp_implicit_tls_server.mail_settings())
    queue(app)
    assert mail.send_due(app) == mail.Batch(sent=1)
    assert len(smtp_implicit_tls_server.wait_for(1)) == 1


def test_send_due_refuses_a_certificate_it_cannot_trust(
    app: Flask, smtp_tls_server: SmtpServer
) -> None:
    # why: STARTTLS that accepts any certificate protects the password from
    # nobody; without MAIL_CA_FILE the self-signed one is not trusted
    app.config.update(smtp_tls_server.mail_settings(), MAIL_CA_FILE=None)
    message_id = queue(app)
    assert mail.send_due(app) == mail.Batch(retrying=1)
    assert "CERTIFICATE_VERIFY_FAILED" in (row(app, message_id).last_error or "")
    assert smtp_tls_server.messages == []


def test_send_due_records_a_missing_ca_file_on_the_message(
    app: Flask, smtp_tls_server: SmtpServer, tmp_path: Path
) -> None:
    # why: the CA file was read outside the connection's error handling, so
    # the message was retried for ever with no error to show (review finding)
    missing = str(tmp_path / "no-such-ca.pem")
    app.config.update(smtp_tls_server.mail_settings(), MAIL_CA_FILE=missing)
    message_id = queue(app)
    assert mail.send_due(app) == mail.Batch(retrying=1)
    assert "FileNotFoundError" in (row(app, message_id).last_error or "")
    assert smtp_tls_server.messages == []


# --- failures ---------------------------------------------------------------


def test_send_due_refused_recipient_fails_for_good_and_others_still_go(
    app: Flask, smtp_server: SmtpServer, runner: FlaskCliRunner
) -> None:
    app.config.update(smtp_server.mail_settings())
    smtp_server.refuse["gone@example.com"] = "550 5.1.1 No such user here"
    refused = queue(app, to="gone@example.com", subject="For nobody")
    fine = queue(app, to="ann@example.com")

    assert mail.send_due(app) == mail.Batch(sent=1, failed=1)

    failed = row(app, refused)
    assert failed.failed_at is not None and failed.sent_at is None
    assert failed.attempts == 1
    assert failed.last_error == (
        "recipient refused: gone@example.com: 550 5.1.1 No such user here"
    )
    assert row(app, fine).sent_at is not None
    assert [m["To"] for m in smtp_server.messages] == ["ann@example.com"]
    assert mail.send_due(app) == mail.Batch()  # never tried again
    listed = runner.invoke(args=["outbox"])
    assert listed.exit_code == 0, listed.output
    assert f"#{refused} invitation to gone@example.com: For nobody" in listed.output
    assert "failed for good" in listed.output
    assert "last error: recipient refused: gone@example.com: 550" in listed.output
    assert f"#{fine} " not in listed.output  # sent: only with --all


def test_send_due_retries_a_recipient_refused_for_now(
    app: Flask, smtp_server: SmtpServer, clock: Clock
) -> None:
    app.config.update(smtp_server.mail_settings())
    smtp_server.refuse["busy@example.com"] = "450 4.2.1 Mailbox busy, try later"
    message_id = queue(app, to="busy@example.com")
    assert mail.send_due(app) == mail.Batch(retrying=1)
    assert at(row(app, message_id).next_attempt_at) == clock.now + timedelta(seconds=30)
    del smtp_server.refuse["busy@example.com"]
    clock.advance(seconds=30)
    assert mail.send_due(app) == mail.Batch(sent=1)
    assert row(app, message_id).attempts == 2


def test_send_due_retries_with_backoff_while_the_server_is_down(
    app: Flask, smtp_server: SmtpServer, clock: Clock, runner: FlaskCliRunner
) -> None:
    app.config.update(smtp_server.mail_settings(), MAIL_PORT=closed_port())
    message_id = queue(app)
    waits = []
    for attempt in range(1, 5):
        assert mail.send_due(app) == mail.Batch(retrying=1)
        queued = row(app, message_id)
        assert queued.attempts == attempt
        assert "ConnectionRefusedError: Connection refused" in (queued.last_error or "")
        wait = at(queued.next_attempt_at) - clock.now  # type: ignore[operator]
        waits.append(wait.total_seconds())
        assert mail.send_due(app) == mail.Batch()  # not due yet
        clock.advance(seconds=wait.total_seconds())
    assert waits == [30, 60, 120, 240]
    listed = runner.invoke(args=["outbox"]).output
    assert "queued: next attempt 2026-12-08 09:07:30 UTC, 4 attempts so far" in listed
    # The server is back: the message goes, and is sent once.
    app.config["MAIL_PORT"] = smtp_server.port
    assert mail.send_due(app) == mail.Batch(sent=1)
    assert len(smtp_server.wait_for(1)) == 1


def test_backoff_doubles_up_to_an_hour() -> None:
    waits = [mail.backoff(n).total_seconds() for n in (1, 2, 3, 7, 8, 9, 50)]
    assert waits == [30, 60, 120, 1920, 3600, 3600, 3600]


def test_send_due_gives_up_after_the_last_attempt(
    app: Flask, clock: Clock, runner: FlaskCliRunner
) -> None:
    app.config.update(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=closed_port(), MAIL_MAX_ATTEMPTS=3
    )
    message_id = queue(app)
    outcomes = []
    for _ in range(3):
        outcomes.append(mail.send_due(app))
        clock.advance(hours=1)
    assert outcomes == [mail.Batch(retrying=1)] * 2 + [mail.Batch(failed=1)]
    failed = row(app, message_id)
    assert failed.failed_at is not None and failed.attempts == 3
    assert mail.send_due(app) == mail.Batch()
    listed = runner.invoke(args=["outbox"]).output
    assert "failed for good 2026-12-08 11:00:00 UTC after 3 attempts" in listed
    assert "Connection refused" in listed
    assert listed.endswith("0 queued, 1 failed (--all: sent mail too).\n")


def test_send_due_gives_up_on_a_server_that_never_answers(app: Flask) -> None:
    # A listening socket that never accepts: the connection is made, the
    # greeting never comes.
    with never_answering_port() as port:
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_TIMEOUT=0.3)
        message_id = queue(app)
        started = time.monotonic()
        assert mail.send_due(app) == mail.Batch(retrying=1)
        assert time.monotonic() - started < 5
    assert row(app, message_id).last_error == f"127.0.0.1:{port}: timed out"


def test_send_due_never_keeps_the_password_in_an_error(
    app: Flask, smtp_tls_server: SmtpServer
) -> None:
    wrong = f"{PASSWORD} but wrong"
    app.config.update(smtp_tls_server.mail_settings(), MAIL_PASSWORD=wrong)
    message_id = queue(app)
    assert mail.send_due(app) == mail.Batch(retrying=1)
    error = row(app, message_id).last_error or ""
    assert error.startswith(f"127.0.0.1:{smtp_tls_server.port}: 535 ")
    assert wrong not in error and "\n" not in error


# --- concurrency ------------------------------------------------------------


def test_send_due_senders_in_parallel_never_send_one_message_twice(
    app: Flask, smtp_server: SmtpServer
) -> None:
    # why: on PostgreSQL senders claim with FOR UPDATE SKIP LOCKED, on SQLite
    # under BEGIN IMMEDIATE; without the lock they read the same due rows (three
    # senders, two mails a batch: PostgreSQL without it sent 42-58 of 40)
    app.config.update(smtp_server.mail_settings(), MAIL_BATCH_SIZE=2)
    smtp_server.recorder.delay = 0.005  # so that the senders overlap
    count = 40
    for n in range(count):
        queue(app, subject=f"mail {n}")
    start = threading.Barrier(3)
    totals: list[mail.Batch] = []
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            start.wait()
            total = mail.Batch()
            while (batch := mail.send_due(app)).claimed:
                total += batch
            totals.append(total)
        except BaseException as error:  # reported by the test, not the thread
            errors.append(error)

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sum(t.sent for t in totals) == count
    assert sum(1 for t in totals if t.sent) >= 2, f"no overlap: {totals}"
    subjects = Counter(m["Subject"] for m in smtp_server.wait_for(count))
    assert subjects == Counter(f"mail {n}" for n in range(count))


def test_send_due_hands_back_the_rest_of_the_batch_when_stopped(
    app: Flask, smtp_server: SmtpServer
) -> None:
    # why: SIGTERM (a deploy) ends send-mail --loop after the mail in hand, not
    # after a batch of 50 on a slow server, and the rest must not wait a lease
    app.config.update(smtp_server.mail_settings())
    first, *rest = [queue(app, subject=f"mail {n}") for n in range(3)]
    stop = threading.Event()
    smtp_server.recorder.on_data = stop.set
    assert mail.send_due(app, stop) == mail.Batch(sent=1)
    assert row(app, first).sent_at is not None
    assert [(row(app, r).attempts, row(app, r).sent_at) for r in rest] == [
        (0, None),
        (0, None),
    ]
    assert mail.send_due(app) == mail.Batch(sent=2)  # due at once


# --- the console backend ----------------------------------------------------


def test_send_due_without_a_server_prints_the_mail(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    # why: make run has no mail server; the invitation's link must be in its
    # terminal, whole, for the demo to work
    link = "http://127.0.0.1:5000/invitations/" + "t" * 90
    message_id = queue(app, body=f"Join us: {link}\n")
    assert mail.send_due(app) == mail.Batch(sent=1)
    printed = capsys.readouterr().err
    assert "To: ann@example.com" in printed
    assert "Subject: You are invited to The Beatles" in printed
    assert "Content-Transfer-Encoding" not in printed  # the body is shown as written
    assert f"Join us: {link}\n" in printed
    assert row(app, message_id).body == ""


# --- the commands -----------------------------------------------------------


def test_send_mail_prints_what_it_did(
    app: Flask, runner: FlaskCliRunner, smtp_server: SmtpServer
) -> None:
    app.config.update(smtp_server.mail_settings())
    smtp_server.refuse["gone@example.com"] = "550 No such user"
    queue(app)
    queue(app, to="gone@example.com")
    result = runner.invoke(args=["send-mail"])
    assert result.exit_code == 0, result.output
    assert result.output == "Sent 1, will retry 0, failed for good 1.\n"
    again = runner.invoke(args=["send-mail"])
    assert again.output == "Nothing to send.\n"


def test_outbox_all_lists_sent_mail_too(
    app: Flask, runner: FlaskCliRunner, smtp_server: SmtpServer, clock: Clock
) -> None:
    app.config.update(smtp_server.mail_settings())
    sent = queue(app, kind="password_reset", subject="Reset your password")
    mail.send_due(app)
    waiting = queue(app)
    assert (
        runner.invoke(args=["outbox"])
        .output.splitlines()[0]
        .startswith(f"#{waiting} invitation")
    )
    listed = runner.invoke(args=["outbox", "--all"]).output.splitlines()
    assert listed == [
        f"#{sent} password_reset to ann@example.com: Reset your password",
        "    sent 2026-12-08 09:00:00 UTC after 1 attempt;"
        " created 2026-12-08 09:00:00 UTC",
        f"#{waiting} invitation to ann@example.com: You are invited to The Beatles",
        "    queued: next attempt 2026-12-08 09:00:00 UTC, 0 attempts so far;"
        " created 2026-12-08 09:00:00 UTC",
        "1 queued, 0 failed, 1 sent.",
    ]


def test_outbox_escapes_control_characters(app: Flask, runner: FlaskCliRunner) -> None:
    # why: enqueue refuses them, but a row written another way must not drive
    # the operator's terminal
    with Session(db.engine(app)) as session, session.begin():
        session.add(
            OutboxMessage(
                kind="invitation",
                to_address="a@b.c",
                subject="red \x1b[31m\nForged: line",
                body="",
                last_error="bad\x1b]0;title\x07",
            )
        )
    output = runner.invoke(args=["outbox"]).output
    assert "\x1b" not in output and "\x07" not in output
    assert "red \\x1b[31m\\nForged: line" in output
    assert "last error: bad\\x1b]0;title\\x07" in output


def test_outbox_says_when_it_is_empty(app: Flask, runner: FlaskCliRunner) -> None:
    assert runner.invoke(args=["outbox"]).output == (
        "0 queued, 0 failed (--all: sent mail too).\n"
    )


@pytest.mark.serial
def test_send_mail_loop_sends_until_sigterm(
    app: Flask, db_url: str, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "SECRET_KEY": "k",
        "DATABASE_URL": db_url,
        "PORTAL_MAIL_SERVER": smtp_server.host,
        "PORTAL_MAIL_PORT": str(smtp_server.port),
    }
    process = subprocess.Popen(  # our own command, as production runs it
        [
            sys.executable,
            "-m",
            "flask",
            "--app",
            "portal",
            "send-mail",
            "--loop",
            "--interval",
            "0.2",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        queue(app)
        smtp_server.wait_for(1, timeout=30)
        queue(app, subject="second")
        smtp_server.wait_for(2, timeout=30)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"Sending mail via 127.0.0.1:{smtp_server.port}")
    assert lines[-1] == "Stopped."
    assert sum("Sent 1, will retry 0" in line for line in lines) == 2


# --- in the server's process (make run) --------------------------------------


def test_mail_sent_in_process_when_asked(db_url: str, smtp_server: SmtpServer) -> None:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "k",
            "DATABASE_URL": db_url,
            "MAIL_SEND_IN_PROCESS": True,
            "MAIL_INTERVAL": 0.1,
            **smtp_server.mail_settings(),
            **app_settings(),
        }
    )
    thread, stop = app.extensions["portal.mail"]
    try:
        queue(app)
        assert smtp_server.wait_for(1)[0]["To"] == "ann@example.com"
    finally:
        stop.set()
        thread.join(10)
        app.extensions["portal.engine"].dispose()
    assert not thread.is_alive()


def test_mail_not_sent_in_process_by_default(app: Flask) -> None:
    assert "portal.mail" not in app.extensions
    assert not any(t.name == "portal-mail" for t in threading.enumerate())


def test_make_run_sends_mail_in_process() -> None:
    dry_run = subprocess.run(
        ["make", "-n", "-B", "run", "VENV=/nonexistent-venv", "PYTHON=python3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "PORTAL_MAIL_SEND_IN_PROCESS=1" in dry_run
    # The links in its mail point at the server it runs, whatever its PORT.
    assert "PORTAL_PUBLIC_URL=http://127.0.0.1:5000 " in dry_run


# --- settings ---------------------------------------------------------------


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("SECRET_KEY", "k")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    yield monkeypatch


def test_mail_settings_from_the_environment(environment: pytest.MonkeyPatch) -> None:
    for name, value in {
        "PORTAL_MAIL_SERVER": "smtp.example.com",
        "PORTAL_MAIL_PORT": "2525",
        "PORTAL_MAIL_SECURITY": "STARTTLS",
        "PORTAL_MAIL_USERNAME": "portal",
        "PORTAL_MAIL_PASSWORD": "secret",
        "PORTAL_MAIL_FROM": "Portal <portal@example.com>",
        "PORTAL_MAIL_TIMEOUT": "2.5",
        "PORTAL_MAIL_CA_FILE": "/etc/ssl/private-ca.pem",
    }.items():
        environment.setenv(name, value)
    settings = mail.Settings.of(create_app())
    assert settings == mail.Settings(
        server="smtp.example.com",
        port=2525,
        security="starttls",
        username="portal",
        password="secret",
        sender="Portal <portal@example.com>",
        timeout=2.5,
        ca_file="/etc/ssl/private-ca.pem",
        batch_size=50,
        max_attempts=10,
    )


def test_mail_settings_default_to_the_console(environment: pytest.MonkeyPatch) -> None:
    app = create_app()
    settings = mail.Settings.of(app)
    assert (settings.server, settings.where, settings.port) == (None, "the console", 25)
    assert app.config["MAIL_SEND_IN_PROCESS"] is False


@pytest.mark.parametrize(
    ("variables", "complaint"),
    [
        ({"PORTAL_MAIL_SECURITY": "ssl"}, "must be one of none, starttls, tls"),
        ({"PORTAL_MAIL_PORT": "x"}, "PORTAL_MAIL_PORT must be a whole number"),
        ({"PORTAL_MAIL_PORT": "70000"}, "is not a port"),
        ({"PORTAL_MAIL_TIMEOUT": "soon"}, "PORTAL_MAIL_TIMEOUT must be a number"),
        ({"PORTAL_MAIL_TIMEOUT": "0"}, "must be above 0"),
        ({"PORTAL_MAIL_FROM": "Portal"}, "must be an address"),
        (
            {"PORTAL_MAIL_SERVER": "smtp.example.com", "PORTAL_MAIL_USERNAME": "u"},
            "the password would cross the network unencrypted",
        ),
    ],
)
def test_mail_settings_refused_at_start(
    environment: pytest.MonkeyPatch, variables: dict[str, str], complaint: str
) -> None:
    for name, value in variables.items():
        environment.setenv(name, value)
    with pytest.raises(RuntimeError, match=complaint):
        create_app()


def test_send_due_holds_no_transaction_while_it_talks_to_the_server(
    app: Flask, smtp_server: SmtpServer, clock: Clock
) -> None:
    # why: the claim is committed before the SMTP conversation starts, so a slow
    # server holds no lock, and another sender that looks meanwhile finds the
    # message taken (attempt counted, next attempt past the batch's lease)
    app.config.update(smtp_server.mail_settings())
    message_id = queue(app)
    during: list[tuple[OutboxMessage, mail.Batch]] = []

    def meanwhile() -> None:
        with app.app_context():
            during.append((row(app, message_id), mail.send_due(app)))

    smtp_server.recorder.on_data = meanwhile
    assert mail.send_due(app) == mail.Batch(sent=1)
    [(claimed, other)] = during
    assert other == mail.Batch()
    assert claimed.attempts == 1 and claimed.sent_at is None
    lease = mail.Settings.of(app).lease(1)
    assert at(claimed.next_attempt_at) == clock.now + lease
