"""Password reset (portal/password_reset.py, portal/domain/password_reset.py):
"Forgot your password?", the mailed link, its throttle, and the set-password
command.

Through the doors a person uses: the HTTP client (mail read from the outbox's
rows, as the sender would read them), and the CLI through click's runner.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal import mail
from portal.domain import demo
from portal.domain import password_reset as resets
from portal.domain.models import (
    LoginFailure,
    OutboxMessage,
    PasswordReset,
    User,
    hash_link_token,
)
from portal.infra.db import writer_session
from portal.infra.passwords import verify_password
from tests.conftest import AuthActions, client_for, csrf_token
from tests.database import committed, committed_scalar
from tests.smtp import SmtpServer, links_in
from tests.test_admin_cli import flask, logs_in
from tests.test_models import statements
from tests.test_security import Clock

NEW_PASSWORD = "a fresh start, at last"
FORGOT = "/password/forgot"
LINK = re.compile(r"http://[^\s]+/password/reset/([A-Za-z0-9_-]{43})")


@pytest.fixture
def clock(app: Flask) -> Clock:
    clock = Clock()
    app.config["CLOCK"] = clock
    return clock


def ask(client: FlaskClient, email: str) -> TestResponse:
    """POST the forgot form for email, with the page's CSRF token."""
    token = csrf_token(client, FORGOT)
    return client.post(FORGOT, data={"email": email, "csrf_token": token})


def mails(app: Flask, to: str | None = None) -> list[tuple[str, str, str, str]]:
    """The outbox's messages (kind, to, subject, body), oldest first."""
    statement = select(
        OutboxMessage.kind,
        OutboxMessage.to_address,
        OutboxMessage.subject,
        OutboxMessage.body,
    ).order_by(OutboxMessage.id)
    if to is not None:
        statement = statement.where(OutboxMessage.to_address == to)
    with committed(app.extensions["portal.engine"]) as connection:
        return [(k, t, s, b) for k, t, s, b in connection.execute(statement)]


def last_link(app: Flask, to: str) -> str:
    """The path of the link in the newest mail to `to`."""
    sent = mails(app, to)
    assert sent, f"no mail to {to}"
    match = LINK.search(sent[-1][3])
    assert match, sent[-1][3]
    return f"/password/reset/{match.group(1)}"


def reset_rows(db: Session) -> int:
    return committed_scalar(db, select(func.count()).select_from(PasswordReset))


def set_password(client: FlaskClient, path: str, password: str) -> TestResponse:
    """POST the reset form at path (its CSRF token read from the page)."""
    token = csrf_token(client, path)
    data = {"new_password": password, "confirm": password, "csrf_token": token}
    return client.post(path, data=data)


def flashed(client: FlaskClient, response: TestResponse) -> str:
    """The page a redirect leads to, as text (its flash included)."""
    return client.get(response.location).get_data(as_text=True)


# --- the whole way -------------------------------------------------------------


def test_reset_end_to_end_kills_old_sessions_and_logs_in(
    app: Flask, clock: Clock, db: Session
) -> None:
    # why: the story: a forgotten password, a mail, a link, a new
    # password; a session stolen before the reset must die with it
    old_session = client_for(app, "member")  # Paul, logged in before
    assert old_session.get("/orgs").status_code == 200
    client = app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    assert f'href="{FORGOT}"' in login_page

    response = ask(client, demo.PAUL)
    assert (response.status_code, response.location) == (302, "/password/forgot/sent")
    page = flashed(client, response)
    assert f"If an account uses {demo.PAUL}, a link to set a new password" in page
    [(kind, to, subject, body)] = mails(app)
    assert (kind, to, subject) == (
        "password_reset",
        demo.PAUL,
        "Set a new password for Portal",
    )
    link = LINK.search(body)
    assert link is not None
    # Built from PUBLIC_URL, never from the request's Host.
    assert link.group(0).startswith(app.config["PUBLIC_URL"])
    row = db.scalar(select(PasswordReset))
    assert row is not None and row.token_hash == hash_link_token(link.group(1))
    assert row.user_id is not None and row.expires_at is not None
    assert link.group(1) not in row.token_hash  # only the hash is stored

    path = urlsplit(link.group(0)).path
    form = client.get(path)
    assert form.status_code == 200
    assert form.headers["Referrer-Policy"] == "no-referrer"
    assert demo.PAUL in form.get_data(as_text=True)
    done = set_password(client, path, NEW_PASSWORD)
    assert (done.status_code, done.location) == (302, "/orgs")
    assert done.headers["Referrer-Policy"] == "no-referrer"
    assert "Your new password is set and you are logged in" in flashed(client, done)
    assert client.get("/account").status_code == 200  # logged in, here

    assert old_session.get("/orgs").status_code == 302  # the old cookie is dead
    assert logs_in(app, demo.PAUL, NEW_PASSWORD)
    assert not logs_in(app, demo.PAUL, demo.PASSWORD)
    # Single use: the link is spent.
    again = app.test_client().get(path)
    assert again.status_code == 410
    assert "This link was already used" in again.get_data(as_text=True)


def test_reset_mail_leaves_over_smtp_and_its_link_works(
    app: Flask, clock: Clock, smtp_server: SmtpServer
) -> None:
    # why: the proof reads the mail from a real SMTP server: what
    # leaves (To, Subject, the link as the sender encoded it) must be what sets
    # the password
    app.config.update(smtp_server.mail_settings())
    client = app.test_client()
    ask(client, demo.PAUL)
    assert mail.send_due(app).sent == 1
    [message] = smtp_server.wait_for(1)
    assert message["To"] == demo.PAUL
    assert message["Subject"] == "Set a new password for Portal"
    [link] = [u for u in links_in(message) if "/password/reset/" in u]
    assert link.startswith(app.config["PUBLIC_URL"])
    path = urlsplit(link).path
    done = set_password(client, path, NEW_PASSWORD)
    assert (done.status_code, done.location) == (302, "/orgs")
    assert client.get("/account").status_code == 200
    assert app.test_client().get(path).status_code == 410  # used: once only


def test_reset_json_same_routes(app: Flask, clock: Clock) -> None:
    # why: every route answers JSON too, with the same words
    client = app.test_client()
    token = client.get(FORGOT, headers={"Accept": "application/json"}).json
    assert token is not None
    response = client.post(
        FORGOT,
        json={"email": demo.RINGO},
        headers={"X-CSRFToken": token["csrf_token"]},
    )
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["message"] == resets_message(demo.RINGO)
    path = last_link(app, demo.RINGO)
    shown = client.get(path, headers={"Accept": "application/json"})
    assert shown.status_code == 200 and shown.json is not None
    assert shown.json["email"] == demo.RINGO
    changed = client.post(
        path,
        json={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        headers={"X-CSRFToken": shown.json["csrf_token"]},
    )
    assert changed.status_code == 200 and changed.json is not None
    assert changed.json["location"] == "/orgs"
    assert logs_in(app, demo.RINGO, NEW_PASSWORD)


def resets_message(email: str) -> str:
    return f"If an account uses {email}, a link to set a new password is on its way."


# --- known and unknown emails alike ------------------------------------------


def _answer(app: Flask, email: str) -> tuple[int, str | None, str]:
    client = app.test_client()
    response = ask(client, email)
    page = flashed(client, response).replace(email, "EMAIL")
    return response.status_code, response.location, page


def test_forgot_answers_known_and_unknown_emails_alike(
    app: Flask, clock: Clock, db: Session
) -> None:
    # why: the answer must not tell which emails have accounts
    known = _answer(app, demo.GEORGE)
    unknown = _answer(app, "nobody@beatles.com")
    # The pages differ only in their CSRF tokens.
    strip = re.compile(r'value="[^"]{40,}"')
    assert known[:2] == unknown[:2]
    assert strip.sub("", known[2]) == strip.sub("", unknown[2])
    assert "If an account uses EMAIL" in known[2]
    assert [to for _k, to, _s, _b in mails(app)] == [demo.GEORGE]
    # Both counted: the unknown one as a row without a user or a token.
    rows = db.execute(
        select(PasswordReset.email, PasswordReset.user_id, PasswordReset.token_hash)
    ).all()
    assert {(email, user is None, token is None) for email, user, token in rows} == {
        (demo.GEORGE, False, False),
        ("nobody@beatles.com", True, True),
    }


def test_forgot_hashes_no_password_on_either_path(
    app: Flask, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # why: a password hash (deliberately slow) on one path only would tell the
    # paths apart by their time
    def refuse(*args: object, **kwargs: object) -> str:
        raise AssertionError("a password was hashed or checked")

    # argon2's own entry points: whatever module called them.
    monkeypatch.setattr(PasswordHasher, "hash", refuse)
    monkeypatch.setattr(PasswordHasher, "verify", refuse)
    for email in (demo.JOHN, "nobody@example.com"):
        assert ask(app.test_client(), email).status_code == 302


def test_forgot_does_the_same_database_work_for_known_and_unknown(
    app: Flask, clock: Clock
) -> None:
    # why: a path with more statements is a slower path; the only difference
    # allowed is the mail itself (one INSERT into the outbox)
    engine = app.extensions["portal.engine"]
    shapes = []
    for email in (demo.GEORGE, "nobody@beatles.com"):
        client = app.test_client()
        token = csrf_token(client, FORGOT)
        with statements(engine) as seen:
            client.post(FORGOT, data={"email": email, "csrf_token": token})
        shapes.append([re.sub(r"\s+", " ", statement) for statement in seen])
    known, unknown = shapes
    mail = [s for s in known if s.startswith("insert into outbox_message")]
    assert len(mail) == 1
    assert [s for s in known if s not in mail] == unknown


def test_forgot_normalizes_the_email(app: Flask, clock: Clock) -> None:
    assert ask(app.test_client(), "  John@Beatles.COM ").status_code == 302
    assert [to for _k, to, _s, _b in mails(app)] == [demo.JOHN]


# --- throttles -------------------------------------------------------------------


def test_forgot_sends_at_most_three_mails_per_email_per_hour(
    app: Flask, clock: Clock
) -> None:
    # why: the form must not become a way to flood someone's mailbox
    answers = []
    for _ in range(5):
        client = app.test_client()
        response = ask(client, demo.JOHN)
        said = flashed(client, response).count(resets_message(demo.JOHN))
        answers.append((response.status_code, said))
    assert answers == [(302, 1)] * 5  # the same answer every time
    assert len(mails(app, demo.JOHN)) == resets.MAILS_PER_EMAIL
    clock.advance(hours=1, seconds=1)
    assert ask(app.test_client(), demo.JOHN).status_code == 302
    assert len(mails(app, demo.JOHN)) == resets.MAILS_PER_EMAIL + 1


def test_forgot_throttles_a_client_with_429_and_retry_after(
    app: Flask, clock: Clock, db: Session
) -> None:
    # why: one client asking for many emails is refused, saying when to retry
    client = app.test_client()
    for n in range(resets.REQUESTS_PER_CLIENT):
        assert ask(client, f"someone{n}@example.com").status_code == 302
    refused_now = ask(client, demo.JOHN)
    assert refused_now.status_code == 429
    assert refused_now.headers["Retry-After"] == "3600"
    page = refused_now.get_data(as_text=True)
    assert "Too many password reset requests from your network" in page
    assert mails(app, demo.JOHN) == []  # refused: no mail, no row
    assert reset_rows(db) == resets.REQUESTS_PER_CLIENT
    clock.advance(minutes=30)
    later = ask(client, demo.JOHN)
    assert (later.status_code, later.headers["Retry-After"]) == (429, "1800")
    clock.advance(minutes=30, seconds=1)
    assert ask(client, demo.JOHN).status_code == 302
    assert len(mails(app, demo.JOHN)) == 1


def test_forgot_thousand_requests_for_one_email_send_the_cap(
    app: Flask, clock: Clock, db: Session
) -> None:
    # why: "a reset requested 1,000 times for one email" must send at most the
    # cap, never fail, and leave a bounded table behind. Straight to the
    # domain for speed, each request as the view makes it (its own client).
    engine = app.extensions["portal.engine"]
    with app.app_context():
        for n in range(1000):
            with writer_session(engine) as session:
                outcome = resets.request_reset(
                    session, demo.JOHN, f"10.1.{n // 250}.{n % 250}", clock()
                )
            assert isinstance(outcome, resets.Requested)
            clock.advance(seconds=10)  # 1,000 requests over 2.8 hours
    mailed = committed_scalar(
        db,
        select(func.count()).where(PasswordReset.token_hash.is_not(None)),
    )
    assert mailed == 3 * resets.MAILS_PER_EMAIL  # the cap, in each hour
    # And over HTTP, the 1,001st: the same answer, no mail.
    assert ask(app.test_client(), demo.JOHN).status_code == 302
    # Rows a day old are pruned by the requests for the email.
    clock.advance(days=1)
    assert ask(app.test_client(), demo.JOHN).status_code == 302
    assert reset_rows(db) == 1


def test_forgot_prune_command_deletes_day_old_rows(
    app: Flask, clock: Clock, runner: FlaskCliRunner, db: Session
) -> None:
    for n in range(3):
        ask(app.test_client(), f"x{n}@example.com")
    clock.advance(days=1)
    result = flask(app, runner, "prune-password-resets")
    assert result.stdout == "Deleted 3 old password reset requests.\n"
    assert reset_rows(db) == 0


# --- bad input -------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "john@beatles.com\r\nBcc: victim@example.com",
        "john@beatles.com\nBcc: x@example.com",
        "john@beatles.com\u2028Bcc: x@example.com",
        "",
        "x" * 300 + "@example.com",
    ],
    ids=["crlf", "lf", "line-separator", "empty", "too-long"],
)
def test_forgot_refuses_bad_emails_with_422(
    app: Flask, clock: Clock, db: Session, email: str
) -> None:
    # why: a line break in the address would inject a mail header
    response = ask(app.test_client(), email)
    assert response.status_code == 422
    assert mails(app) == []
    assert reset_rows(db) == 0


def test_forgot_refuses_a_post_without_csrf_token(
    app: Flask, clock: Clock, db: Session
) -> None:
    response = app.test_client().post(FORGOT, data={"email": demo.JOHN})
    assert response.status_code == 400
    assert mails(app) == [] and reset_rows(db) == 0


def test_reset_refuses_a_post_without_csrf_token(app: Flask, clock: Clock) -> None:
    ask(app.test_client(), demo.JOHN)
    path = last_link(app, demo.JOHN)
    data = {"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    assert app.test_client().post(path, data=data).status_code == 400
    assert logs_in(app, demo.JOHN, demo.PASSWORD)


@pytest.mark.parametrize(
    ("password", "confirm", "error"),
    [
        ("short", "short", "Use between 12 and 128 characters."),
        ("x" * 129, "x" * 129, "Use between 12 and 128 characters."),
        (NEW_PASSWORD, NEW_PASSWORD + "!", "The two new passwords differ."),
        ("", "", "Enter a new password."),
    ],
    ids=["short", "long", "differ", "empty"],
)
def test_reset_form_uses_the_password_rules(
    app: Flask, clock: Clock, password: str, confirm: str, error: str
) -> None:
    # why: the same rules as the password page, and a refused form keeps the link
    ask(app.test_client(), demo.JOHN)
    path = last_link(app, demo.JOHN)
    client = app.test_client()
    token = csrf_token(client, path)
    response = client.post(
        path, data={"new_password": password, "confirm": confirm, "csrf_token": token}
    )
    assert response.status_code == 422
    assert error in response.get_data(as_text=True)
    assert set_password(client, path, NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize(
    "token",
    [
        "x",
        "A" * 43,
        "A" * 42 + "!",
        "A" * 44,
        "%00" * 10,
        "\u00e9" * 43,
        "A" * 5000,
    ],
    ids=["short", "unknown", "bad-char", "long", "nul", "non-ascii", "huge"],
)
def test_reset_unknown_or_malformed_link_is_404(
    app: Flask, clock: Clock, token: str
) -> None:
    for method in ("GET", "POST"):
        client = app.test_client()
        response = client.open(f"/password/reset/{token}", method=method)
        assert response.status_code in (404, 400), (method, response.status_code)
        if method == "GET":
            assert response.status_code == 404
            assert "This link does not work" in response.get_data(as_text=True)
            assert response.headers["Referrer-Policy"] == "no-referrer"


def test_reset_expired_link_is_410_and_changes_nothing(
    app: Flask, clock: Clock
) -> None:
    ask(app.test_client(), demo.JOHN)
    path = last_link(app, demo.JOHN)
    client = app.test_client()
    token = csrf_token(client, path)  # the form, shown while the link worked
    clock.advance(hours=1)
    response = client.get(path)
    assert response.status_code == 410
    assert "This link has expired" in response.get_data(as_text=True)
    data = {"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token}
    assert client.post(path, data=data).status_code == 410
    assert logs_in(app, demo.JOHN, demo.PASSWORD)
    json = client.get(path, headers={"Accept": "application/json"})
    assert json.status_code == 410 and json.json is not None
    assert json.json["message"].startswith("Links to set a new password work for")


def test_reset_a_new_password_spends_every_other_link(app: Flask, clock: Clock) -> None:
    # why: an older mail's link must not set the password again afterwards
    ask(app.test_client(), demo.JOHN)
    first = last_link(app, demo.JOHN)
    ask(app.test_client(), demo.JOHN)
    second = last_link(app, demo.JOHN)
    assert first != second
    assert set_password(app.test_client(), second, NEW_PASSWORD).status_code == 302
    client = app.test_client()
    assert client.get(first).status_code == 410
    assert logs_in(app, demo.JOHN, NEW_PASSWORD)


def test_reset_link_reused_after_success_is_410(app: Flask, clock: Clock) -> None:
    ask(app.test_client(), demo.JOHN)
    path = last_link(app, demo.JOHN)
    client = app.test_client()
    token = csrf_token(client, path)
    assert set_password(app.test_client(), path, NEW_PASSWORD).status_code == 302
    data = {"new_password": "another one entirely", "confirm": "another one entirely"}
    again = client.post(path, data={**data, "csrf_token": token})
    assert again.status_code == 410
    assert logs_in(app, demo.JOHN, NEW_PASSWORD)


def test_reset_opening_the_link_changes_nothing(
    app: Flask, clock: Clock, db: Session
) -> None:
    # why: mail scanners follow links; only sending the form may spend one
    ask(app.test_client(), demo.JOHN)
    path = last_link(app, demo.JOHN)
    for _ in range(3):
        assert app.test_client().get(path).status_code == 200
    used = committed_scalar(db, select(PasswordReset.used_at))
    assert used is None


def test_reset_forgets_the_login_failures(
    app: Flask, clock: Clock, db: Session
) -> None:
    # why: someone else's guesses paused logins; the owner of the mailbox may
    # log in at once with the password they just set
    for _ in range(10):
        AuthActions(app.test_client()).login(demo.JOHN, "wrong guess")
    assert AuthActions(app.test_client()).login(demo.JOHN).status_code == 429
    ask(app.test_client(), demo.JOHN)
    path = last_link(app, demo.JOHN)
    assert set_password(app.test_client(), path, NEW_PASSWORD).status_code == 302
    assert committed_scalar(db, select(func.count()).select_from(LoginFailure)) == 0
    assert logs_in(app, demo.JOHN, NEW_PASSWORD)


def test_reset_password_page_change_spends_links(app: Flask, clock: Clock) -> None:
    # why: a password changed on the account page ends older reset links too
    ask(app.test_client(), demo.PAUL)
    path = last_link(app, demo.PAUL)
    client = client_for(app, "member")
    token = csrf_token(client, "/account/password")
    response = client.post(
        "/account/password",
        data={
            "current_password": demo.PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert app.test_client().get(path).status_code == 410


# --- the CLI -----------------------------------------------------------------------


def test_set_password_from_stdin_ends_sessions(
    app: Flask, runner: FlaskCliRunner, clock: Clock
) -> None:
    old_session = client_for(app, "owner")
    ask(app.test_client(), demo.JOHN)
    path = last_link(app, demo.JOHN)
    result = flask(
        app,
        runner,
        "set-password",
        "John@Beatles.com",
        "--password-stdin",
        input=NEW_PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Set a new password for john@beatles.com (id ")
    assert NEW_PASSWORD not in result.output
    assert logs_in(app, demo.JOHN, NEW_PASSWORD)
    assert not logs_in(app, demo.JOHN, demo.PASSWORD)
    assert old_session.get("/orgs").status_code == 302  # its session ended
    assert app.test_client().get(path).status_code == 410  # its link too


def test_set_password_asks_twice_when_typed(app: Flask, runner: FlaskCliRunner) -> None:
    typed = f"{NEW_PASSWORD}\n{NEW_PASSWORD}x\n"
    result = flask(app, runner, "set-password", demo.PAUL, input=typed)
    assert result.exit_code == 1
    assert result.stderr == (
        "Password: \nRepeat the password: \n"
        "Error: Password not accepted: The two new passwords differ.\n"
    )
    assert logs_in(app, demo.PAUL, demo.PASSWORD)


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (
            ["nobody@example.com"],
            NEW_PASSWORD,
            1,
            "There is no user with the email 'nobody@example.com'.",
        ),
        (
            [demo.PAUL],
            "short",
            1,
            "Password not accepted: Use between 12 and 128 characters.",
        ),
        (
            [demo.PAUL],
            "",
            1,
            "No password on standard input: its first line must hold it.",
        ),
    ],
    ids=["unknown", "short", "empty"],
)
def test_set_password_refusals_change_nothing(
    app: Flask,
    runner: FlaskCliRunner,
    args: list[str],
    stdin: str,
    code: int,
    message: str,
    db: Session,
) -> None:
    before = committed_scalar(
        db, select(User.password_hash).where(User.email == demo.PAUL)
    )
    result = flask(
        app, runner, "set-password", *args, "--password-stdin", input=stdin + "\n"
    )
    assert result.exit_code == code, result.output
    assert message in result.stderr
    after = committed_scalar(
        db, select(User.password_hash).where(User.email == demo.PAUL)
    )
    assert before == after
    assert verify_password(after, demo.PASSWORD)


def test_reset_link_lifetime_is_an_hour() -> None:
    assert timedelta(hours=1) == resets.TOKEN_LIFETIME


def test_reset_two_submissions_of_one_link_at_once_one_wins(
    app: Flask, clock: Clock
) -> None:
    # why: a link is single use also when two tabs send it at the same moment
    # (the row is locked: FOR UPDATE on PostgreSQL, the writer lock on SQLite)
    ask(app.test_client(), demo.JOHN)
    path = last_link(app, demo.JOHN)
    passwords = ["first new password", "second new password"]
    clients = [app.test_client() for _ in passwords]
    tokens = [csrf_token(client, path) for client in clients]
    barrier = threading.Barrier(len(passwords))
    statuses: dict[str, int] = {}

    def submit(client: FlaskClient, token: str, password: str) -> None:
        data = {"new_password": password, "confirm": password, "csrf_token": token}
        barrier.wait()
        statuses[password] = client.post(path, data=data).status_code

    threads = [
        threading.Thread(target=submit, args=args)
        for args in zip(clients, tokens, passwords, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses.values()) == [302, 410]
    [winner] = [password for password, status in statuses.items() if status == 302]
    assert [logs_in(app, demo.JOHN, password) for password in passwords] == [
        password == winner for password in passwords
    ]
