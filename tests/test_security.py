"""Sessions, passwords, login throttling, CSRF, headers and dependency versions."""

from __future__ import annotations

import http.client
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar
from importlib.metadata import version
from pathlib import Path
from urllib.parse import urlencode, urlsplit
from urllib.request import HTTPCookieProcessor, build_opener

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from itsdangerous import TimestampSigner
from packaging.version import Version
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server
from werkzeug.test import EnvironBuilder, TestResponse
from werkzeug.wrappers import Request

from portal import auth as auth_module
from portal import create_app
from portal.domain import demo, users
from portal.domain.models import LoginFailure, User
from portal.infra import passwords
from portal.infra.db import WRITER
from portal.web.sessions import SESSION_EXPIRED
from tests.conftest import (
    AuthActions,
    RoleActions,
    client_for,
    csrf_in,
    csrf_token,
    role_of,
    roles_snapshot,
    user_by_email,
)
from tests.database import committed_scalar, snapshot
from tests.races import race_password_changes
from tests.routes import ACTORS, TARGET_ID, TARGET_ROLE_ID, routes
from tests.settings import app_settings

ROOT = Path(__file__).resolve().parents[1]


class Clock:
    """A controllable clock for app.config["CLOCK"]."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(app: Flask) -> Clock:
    clock = Clock()
    app.config["CLOCK"] = clock
    return clock


# --- sessions ---------------------------------------------------------------


def test_session_idle_timeout_logs_out_after_30_minutes(
    client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    auth.login(demo.PAUL)
    clock.advance(minutes=29)
    assert client.get("/orgs").status_code == 200
    clock.advance(minutes=29)  # active 29 minutes ago: still fine
    assert client.get("/orgs").status_code == 200
    clock.advance(minutes=31)
    response = client.get("/orgs")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert SESSION_EXPIRED in client.get(response.location).text


def test_session_absolute_lifetime_is_12_hours(
    client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    auth.login(demo.PAUL)
    for _ in range(12 * 3):  # busy all day, never idle for long
        clock.advance(minutes=20)
        assert client.get("/orgs").status_code == 200
    clock.advance(minutes=1)
    assert client.get("/orgs").status_code == 302


def test_session_cookie_is_httponly_and_lax(
    client: FlaskClient, auth: AuthActions
) -> None:
    response = auth.login(demo.PAUL)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_session_cookie_is_secure_with_host_prefix_over_https(db_url: str) -> None:
    app = create_app(  # HTTPS by default
        {"SECRET_KEY": "k", "DATABASE_URL": db_url, **app_settings()}
    )
    page = app.test_client().get("/login", base_url="https://localhost")
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    app.extensions["portal.engine"].dispose()


def test_session_without_timestamps_is_logged_out(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.PAUL)
    with client.session_transaction() as session:
        del session["login_at"], session["seen_at"]
    assert client.get("/orgs").status_code == 302


def _session_cookie(client: FlaskClient) -> str:
    """The value of client's session cookie, for a thief to copy."""
    cookie = client.get_cookie("session")
    assert cookie is not None, "the client has no session cookie"
    return cookie.value


def test_logout_after_idle_expiry_still_kills_copied_cookies(
    app: Flask, client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    # why: the thief keeps their copy active; the owner comes back after the idle
    # timeout and logs out. The logout must still rotate the token.
    auth.login(demo.PAUL)
    token = csrf_token(client, "/orgs")  # the Log out button on an open page
    thief = app.test_client()
    thief.set_cookie("session", _session_cookie(client))
    for _ in range(3):
        clock.advance(minutes=15)
        assert thief.get("/orgs").status_code == 200
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert thief.get("/orgs").status_code == 302


def test_password_change_kills_copied_cookies_but_keeps_this_one(
    app: Flask, client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    auth.login(demo.PAUL)
    thief = app.test_client()
    thief.set_cookie("session", _session_cookie(client))
    assert thief.get("/orgs").status_code == 200
    new = "correct horse battery staple"
    response = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(client, "/account/password"),
            "current_password": demo.PASSWORD,
            "new_password": new,
            "confirm": new,
        },
    )
    assert response.status_code == 302
    assert thief.get("/orgs").status_code == 302
    assert client.get("/orgs").status_code == 200
    other = app.test_client()
    assert AuthActions(other).login(demo.PAUL, new).status_code == 302
    assert AuthActions(app.test_client()).login(demo.PAUL).status_code == 422


def test_change_password_refuses_an_account_changed_since_it_was_read(
    app: Flask, db: Session
) -> None:
    # why: the same order as the request: read, commit (the throttle does),
    # slow check without a lock, then lock and write; here a logout elsewhere
    # rotates the token in between
    engine = app.extensions["portal.engine"]
    with Session(engine, execution_options=WRITER) as request_session:
        user = user_by_email(request_session, demo.PAUL)
        seen = users.Seen.of(user)
        request_session.commit()
        with Session(engine, execution_options=WRITER) as other:
            user_by_email(other, demo.PAUL).rotate_session_token()
            other.commit()
        with pytest.raises(users.AccountChangedMeanwhile):
            users.change_password(request_session, user, seen, "new hash")
    db.expire_all()
    stored = db.scalar(select(User.password_hash).where(User.email == demo.PAUL))
    assert stored == seen.password_hash


# On SQLite here; tests/test_postgres.py runs the same race on PostgreSQL, so
# this copy's PostgreSQL run is deselected. Serial: a race measures contention.
@pytest.mark.sqlite_only
@pytest.mark.serial
def test_password_change_race_lets_exactly_one_win(app: Flask) -> None:
    # why: both changes used to report success; only one new password worked,
    # and sometimes both sessions stayed logged in
    race_password_changes(app, rounds=20)


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        ("wrong password", "long enough password", "long enough password", "not your"),
        (demo.PASSWORD, "short", "short", "between 12 and 128"),
        (demo.PASSWORD, "long enough password", "different password!", "differ"),
        (demo.PASSWORD, "x" * 129, "x" * 129, "between 12 and 128"),
    ],
)
def test_password_change_refuses_bad_input(
    client: FlaskClient,
    auth: AuthActions,
    db: Session,
    current: str,
    new: str,
    confirm: str,
    message: str,
) -> None:
    auth.login(demo.PAUL)
    stored_hash = select(User.password_hash).where(User.email == demo.PAUL)
    before = committed_scalar(db, stored_hash)
    response = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(client, "/account/password"),
            "current_password": current,
            "new_password": new,
            "confirm": confirm,
        },
    )
    assert response.status_code == 422
    assert message in response.text
    assert committed_scalar(db, stored_hash) == before


# --- passwords and throttling -----------------------------------------------


@pytest.mark.asvs_hashing
def test_passwords_are_argon2id_at_asvs_parameters(db: Session) -> None:
    stored = user_by_email(db, demo.JOHN).password_hash
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_password(stored, demo.PASSWORD)
    assert not passwords.verify_password(stored, demo.PASSWORD + "x")


def test_hash_work_runs_at_most_hash_concurrency_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # why: each hash holds 19 MiB while it runs; 64 parallel logins all hashing
    # at once took a server from 80 to 580-710 MiB
    bound = passwords.hash_concurrency()
    running = peak = 0
    lock = threading.Lock()

    def counted(real: Callable[..., object]) -> Callable[..., object]:
        def wrapper(*args: object) -> object:
            nonlocal running, peak
            with lock:
                running += 1
                peak = max(peak, running)
            try:
                time.sleep(0.02)  # why: so that callers pile up behind each slot
                return real(*args)
            finally:
                with lock:
                    running -= 1

        return wrapper

    stored = passwords.hash_password("the right password")
    monkeypatch.setattr(PasswordHasher, "verify", counted(PasswordHasher.verify))
    monkeypatch.setattr(PasswordHasher, "hash", counted(PasswordHasher.hash))
    jobs: list[tuple[Callable[[], object], object]] = [
        (lambda: passwords.verify_password(stored, "the right password"), True),
        (lambda: passwords.verify_password(stored, "a wrong password"), False),
        (lambda: passwords.hash_password("new")[:10], "$argon2id$"),
    ] * (bound + 2)
    results: dict[int, object] = {}
    barrier = threading.Barrier(len(jobs))

    def run(i: int) -> None:
        barrier.wait()
        results[i] = jobs[i][0]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert peak == bound  # never more, and the bound is used
    assert [results[i] for i in range(len(jobs))] == [want for _, want in jobs]


def test_hash_concurrency_can_be_set_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORTAL_HASH_CONCURRENCY", "3")
    assert passwords.hash_concurrency() == 3


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")
def test_hash_password_works_in_a_forked_child() -> None:
    # why: a forked child (a gunicorn worker) inherits the parent's hashing pool
    # but none of its threads: jobs given to that pool would wait forever
    passwords.hash_password("x")  # the parent's hashing threads exist now
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only
        ok = False
        try:
            signal.alarm(20)  # a hang kills the child, which fails the test
            ok = passwords.verify_password(passwords.hash_password("y"), "y")
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_password_hash_cost_is_the_apps_setting(app: Flask) -> None:
    # why: tests hash at argon2's minimum by setting; production must keep ASVS
    with app.app_context():
        assert passwords.hash_password("x").startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert passwords.configured_cost() == passwords.ASVS  # outside any app
    default = create_app({"SECRET_KEY": "k", "DATABASE_URL": "sqlite://"})
    assert default.config["PASSWORD_HASH_COST"] == passwords.ASVS
    with default.app_context():
        assert passwords.hash_password("x").startswith(
            "$argon2id$v=19$m=19456,t=2,p=1$"
        )
    default.extensions["portal.engine"].dispose()


def test_login_rehashes_a_hash_weaker_than_the_setting(
    db_url: str, db: Session
) -> None:
    # why: raising the setting must reach every account at its next login
    stronger = create_app(
        {
            "SECRET_KEY": "k",
            "DATABASE_URL": db_url,
            "HTTPS": False,
            **app_settings(passwords.ASVS),
        }
    )
    auth = AuthActions(stronger.test_client())
    assert auth.login(demo.PAUL).status_code == 302
    stored = committed_scalar(
        db, select(User.password_hash).where(User.email == demo.PAUL)
    )
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert AuthActions(stronger.test_client()).login(demo.PAUL).status_code == 302
    stronger.extensions["portal.engine"].dispose()


def test_passwords_module_does_nothing_at_import() -> None:
    # why: it used to start its threads and hash at import, in every process
    # that imported portal (the CLI, each test process, each gunicorn master)
    code = (
        "import threading, time; start = time.perf_counter();"
        "import portal.infra.passwords;"
        "assert threading.active_count() == 1, threading.enumerate();"
        "assert portal.infra.passwords._dummy_hash.cache_info().currsize == 0"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.asvs_hashing
def test_unknown_email_costs_the_same_hash_work(
    auth: AuthActions, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_verify = PasswordHasher.verify

    def counting_verify(self: PasswordHasher, hash: str, password: str) -> bool:
        calls.append(hash[:31])
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    auth.login("nobody@example.com", "whatever")
    auth.login(demo.PAUL, "whatever")
    # One full argon2id verification each, at the same parameters.
    assert calls == ["$argon2id$v=19$m=19456,t=2,p=1$"] * 2


def _failures(db: Session, email: str) -> int:
    return committed_scalar(
        db,
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.email == email),
    )


def test_login_attempt_clears_only_its_own_emails_expired_failures(
    auth: AuthActions, clock: Clock, db: Session, runner: FlaskCliRunner
) -> None:
    # why: every attempt deleted every email's expired rows, so on PostgreSQL
    # logins for different emails waited on each other
    for email in (demo.PAUL, demo.RINGO):
        assert auth.login(email, "wrong").status_code == 422
    clock.advance(minutes=16)  # both failures are expired now
    assert auth.login(demo.PAUL, "wrong").status_code == 422
    assert _failures(db, demo.PAUL) == 1  # its expired one gone, the new one kept
    assert _failures(db, demo.RINGO) == 1  # another email's: left alone
    # ...until someone prunes them all
    result = runner.invoke(args=["prune-login-failures"])
    assert result.output == "Deleted 1 expired login failures.\n", result.output
    assert _failures(db, demo.RINGO) == 0 and _failures(db, demo.PAUL) == 1


def test_login_throttle_after_10_failures_in_15_minutes(
    client: FlaskClient, auth: AuthActions, clock: Clock, db: Session
) -> None:
    for _ in range(10):
        assert auth.login(demo.PAUL, "wrong").status_code == 422
        clock.advance(seconds=30)
    assert _failures(db, demo.PAUL) == 10
    response = auth.login(demo.PAUL)  # even the right password waits
    assert response.status_code == 429
    assert "Too many failed logins for this account" in response.text
    assert "try again in 10 minutes" in response.text
    assert int(response.headers["Retry-After"]) > 0
    assert client.get("/orgs").status_code == 302


def test_login_throttle_ends_by_itself(
    client: FlaskClient, auth: AuthActions, clock: Clock, db: Session
) -> None:
    for _ in range(10):
        auth.login(demo.PAUL, "wrong")
    assert auth.login(demo.PAUL).status_code == 429
    clock.advance(minutes=15, seconds=1)
    assert auth.login(demo.PAUL).status_code == 302
    assert _failures(db, demo.PAUL) == 0  # a success forgets the failures


def parallel_wrong_logins(app: Flask, email: str, count: int) -> list[int]:
    """POST count wrong passwords for email at the same moment; the statuses."""
    return sorted(parallel_logins(app, email, ["wrong"] * count))


def parallel_logins(app: Flask, email: str, passwords: list[str]) -> list[int]:
    """POST a login for email with each password at the same moment (one client
    each); the statuses, in the order of passwords."""
    clients = [app.test_client() for _ in passwords]
    tokens = [csrf_token(c) for c in clients]
    barrier = threading.Barrier(len(passwords))
    statuses: list[int] = [0] * len(passwords)

    def log_in(index: int) -> None:
        data = {
            "email": email,
            "password": passwords[index],
            "csrf_token": tokens[index],
        }
        barrier.wait()
        statuses[index] = clients[index].post("/login", data=data).status_code

    threads = [
        threading.Thread(target=log_in, args=(i,)) for i in range(len(passwords))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_login_throttle_holds_under_a_burst_of_parallel_guesses(
    app: Flask, clock: Clock, db: Session
) -> None:
    # why: count-then-hash-then-record let every parallel guess pass the count
    assert parallel_wrong_logins(app, demo.PAUL, 24) == [422] * 10 + [429] * 14
    assert _failures(db, demo.PAUL) == 10


def test_password_change_is_throttled_too(
    client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    auth.login(demo.PAUL)
    data = {"new_password": "a long new password", "confirm": "a long new password"}
    statuses = []
    for _ in range(11):
        data["csrf_token"] = csrf_token(client, "/account/password")
        data["current_password"] = "wrong guess"
        response = client.post("/account/password", data=data)
        statuses.append(response.status_code)
    assert statuses == [422] * 10 + [429]
    assert int(response.headers["Retry-After"]) > 0


def test_login_throttle_is_per_account(auth: AuthActions, clock: Clock) -> None:
    for _ in range(10):
        auth.login(demo.PAUL, "wrong")
    assert auth.login(demo.RINGO).status_code == 302


def test_login_throttle_counts_unknown_emails_alike(
    auth: AuthActions, clock: Clock
) -> None:
    # why: a different answer for unknown emails would reveal which accounts exist
    for _ in range(10):
        auth.login("nobody@example.com", "wrong")
    assert auth.login("nobody@example.com", "wrong").status_code == 429


def test_login_throttle_holds_across_app_instances(
    app: Flask, db_url: str, clock: Clock
) -> None:
    # why: two server processes share only the database
    for _ in range(10):
        AuthActions(app.test_client()).login(demo.PAUL, "wrong")
    other = create_app(
        {"SECRET_KEY": "k", "DATABASE_URL": db_url, "HTTPS": False, **app_settings()}
    )
    other.config["CLOCK"] = clock
    assert AuthActions(other.test_client()).login(demo.PAUL).status_code == 429
    other.extensions["portal.engine"].dispose()


def test_login_failures_outside_the_window_do_not_count(
    auth: AuthActions, clock: Clock
) -> None:
    for _ in range(9):
        auth.login(demo.PAUL, "wrong")
    clock.advance(minutes=16)
    auth.login(demo.PAUL, "wrong")
    assert auth.login(demo.PAUL).status_code == 302


# --- CSRF and methods ---------------------------------------------------------


def _two_hours_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make signed values (CSRF tokens, the session) look two hours older."""
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(
        TimestampSigner, "get_timestamp", lambda self: real(self) + 7200
    )


@pytest.mark.parametrize("kind", ["missing", "garbage", "other_session", "expired"])
def test_csrf_bad_tokens_are_refused(
    app: Flask,
    auth: AuthActions,
    roles: RoleActions,
    db: Session,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
) -> None:
    auth.login(demo.JOHN)
    if kind == "missing":
        token = None
    elif kind == "garbage":
        token = "garbage." + "A" * 60
    elif kind == "other_session":
        other = app.test_client()
        AuthActions(other).login(demo.JOHN)
        token = RoleActions(other).csrf_token()
    else:
        token = roles.csrf_token()
        _two_hours_later(monkeypatch)  # tokens live 1 hour; the session 12
    engine = app.extensions["portal.engine"]
    before = snapshot(engine)  # every row: no invitation, no mail either
    assert roles.assign(1, demo.ADMIN, "OWNER", token=token).status_code == 400
    assert snapshot(engine) == before
    # The control: the same form with a good token invites (issue 19).
    assert roles.assign(1, demo.ADMIN, "OWNER").status_code == 302


@pytest.mark.one_backend  # refused before any view reads the database
@pytest.mark.parametrize("path", [route.path for _, _, route in routes("POST")])
@pytest.mark.parametrize("kind", ["missing", "garbage"])
def test_csrf_every_post_route_checks_the_token(
    client: FlaskClient, auth: AuthActions, path: str, kind: str
) -> None:
    auth.login(demo.JOHN)
    data = {} if kind == "missing" else {"csrf_token": "garbage"}
    assert client.post(path, data=data).status_code == 400
    assert client.get("/orgs").status_code == 200  # still logged in


def test_csrf_login_form_checks_the_token(client: FlaskClient) -> None:
    data = {"email": demo.PAUL, "password": demo.PASSWORD, "csrf_token": "x"}
    assert client.post("/login", data=data).status_code == 400


@pytest.mark.one_backend  # answered by the router, before any view
@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", sorted({route.path for _, _, route in routes()}))
def test_methods_other_than_get_and_post_are_not_allowed(
    client: FlaskClient, auth: AuthActions, method: str, path: str
) -> None:
    auth.login(demo.JOHN)
    # A valid token, so that only the method can be the reason for refusing.
    headers = {"X-CSRFToken": csrf_token(client, "/orgs")}
    assert client.open(path, method=method, headers=headers).status_code == 405


# --- headers and limits -------------------------------------------------------

CSP_REQUIRED = [
    "default-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
]


def _get_paths() -> list[str]:
    """Every GET route but static files, for The Beatles and for Monsters Inc.,
    and a path that matches no route."""
    paths = []
    for endpoint, _, route in routes("GET"):
        if endpoint != "static":  # cacheable: test_headers_on_static_files
            paths.append(route.path)
            if route.takes_organization:
                paths.append(route.path_for(demo.MONSTERS_ID))
    return [*paths, "/nope"]


@pytest.mark.parametrize("actor", ACTORS)
def test_headers_on_every_page(app: Flask, actor: str) -> None:
    # why: each actor sees other answers (page, redirect, 403, 404) on each route
    client = client_for(app, actor)
    for path in _get_paths():
        response = client.get(path)
        csp = response.headers["Content-Security-Policy"]
        assert all(part in csp for part in CSP_REQUIRED), path
        assert "unsafe-inline" not in csp, path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        # The password reset link's pages send none at all: their URL holds
        # the link's token (issue 19).
        referrer = "no-referrer" if path.startswith("/password/reset/") else None
        assert response.headers["Referrer-Policy"] == (referrer or "same-origin"), path
        assert response.headers["Cache-Control"] == "no-store", path


def test_headers_on_error_responses(
    app: Flask, client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    responses = {400: client.post("/login", data={})}
    auth.login(demo.PAUL)
    responses[405] = client.get("/logout")
    responses[413] = client.post("/orgs", data={"x": "y" * 70_000})
    responses[403] = client.get("/orgs/1/billing")
    stranger = AuthActions(app.test_client())
    for _ in range(10):
        stranger.login("x@example.com", "wrong")
    responses[429] = stranger.login("x@example.com", "wrong")
    for status, response in responses.items():
        assert response.status_code == status
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.own_app  # adds a route
def test_headers_on_a_server_error(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("boom")

    auth.login(demo.PAUL)
    app.testing = False  # render the 500 page instead of raising into the test
    response = client.get("/boom")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.text
    assert "Content-Security-Policy" in response.headers


def test_oversized_body_refused_even_where_nothing_reads_it(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.PAUL)
    assert client.get("/orgs", data="x" * 100_000).status_code == 413


def test_forged_host_header_refused_with_trusted_hosts(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTAL_TRUSTED_HOSTS", "portal.example.com")
    app = create_app(
        {"SECRET_KEY": "k", "DATABASE_URL": db_url, "HTTPS": False, **app_settings()}
    )
    client = app.test_client()
    assert client.get("/orgs//1", headers={"Host": "evil.example"}).status_code == 400
    ok = client.get("/login", headers={"Host": "portal.example.com"})
    assert ok.status_code == 200
    app.extensions["portal.engine"].dispose()


@pytest.mark.parametrize(
    "hosts", ["a.example, portal.example.com", " portal.example.com ,a.example,"]
)
def test_trusted_hosts_are_trimmed(
    db_url: str, monkeypatch: pytest.MonkeyPatch, hosts: str
) -> None:
    # why: the README says comma-separated; "a, b" refused b with 400
    monkeypatch.setenv("PORTAL_TRUSTED_HOSTS", hosts)
    app = create_app(
        {"SECRET_KEY": "k", "DATABASE_URL": db_url, "HTTPS": False, **app_settings()}
    )
    assert sorted(app.config["TRUSTED_HOSTS"]) == ["a.example", "portal.example.com"]
    client = app.test_client()
    assert (
        client.get("/login", headers={"Host": "portal.example.com"}).status_code == 200
    )
    assert client.get("/login", headers={"Host": "evil.example"}).status_code == 400
    app.extensions["portal.engine"].dispose()


def test_headers_on_static_files(client: FlaskClient) -> None:
    response = client.get("/static/portal.css")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response.headers
    response.close()


def test_templates_have_no_inline_script_or_style(app: Flask) -> None:
    # why: the CSP forbids them; the browser would silently drop them
    loader = app.jinja_env.loader
    assert loader is not None
    for name in app.jinja_env.list_templates():
        source = loader.get_source(app.jinja_env, name)[0]
        # Scripts only from our static files, never inline.
        for script in re.findall(r"<script[^>]*>(.*?)</script>", source, re.DOTALL):
            assert script == "", name
        for tag in re.findall(r"<script[^>]*>", source):
            assert re.search(r"src=\"\{\{ url_for\('static'", tag), (name, tag)
        assert "<style" not in source, name
        assert "style=" not in source and " on" + "click" not in source, name


def test_oversized_request_body_gets_413(
    auth: AuthActions, roles: RoleActions, db: Session
) -> None:
    auth.login(demo.JOHN)
    before = roles_snapshot(db)
    response = roles.assign(1, "a" * 100_000, "OWNER")
    assert response.status_code == 413
    assert roles_snapshot(db) == before


FORM = "application/x-www-form-urlencoded"


# Ringo's member page, where his role changes (the roles page's form invites:
# issue 19), and what its form carries for his role.
RINGO_PAGE = f"/orgs/1/roles/{TARGET_ID}"
RINGO_SHOWN = {"current": "MEMBER", "current_id": str(TARGET_ROLE_ID)}


def _cut_role_body(token: str, limit: int, overflow: bytes) -> bytes:
    """A role POST whose first limit bytes make Ringo OWNER; overflow follows them.

    Cut at the limit, the name reads "OWNER"; in full it reads "OWNER" + overflow.
    """
    tail = urlencode({"csrf_token": token, **RINGO_SHOWN, "name": "OWNER"}).encode()
    pad = b"pad=" + b"x" * (limit - len(tail) - len(b"pad=&")) + b"&"
    assert len(pad + tail) == limit
    return pad + tail + overflow


def _post_chunked(client: FlaskClient, path: str, body: bytes) -> TestResponse:
    """POST body as a server passes a chunked request on: with no Content-Length."""
    environ = EnvironBuilder(
        path=path,
        method="POST",
        input_stream=io.BytesIO(body),
        content_type=FORM,
        headers=[("Transfer-Encoding", "chunked")],
    ).get_environ()
    del environ["CONTENT_LENGTH"]  # the builder counted the bytes; chunks are not
    # why: Werkzeug's server and gunicorn set this once they de-chunk the body;
    # without it Werkzeug reads no body at all
    environ["wsgi.input_terminated"] = True
    return client.open(Request(environ))


def test_chunked_oversized_body_gets_413_and_changes_nothing(
    app: Flask, client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    # why: Werkzeug stopped reading at the limit without an error, so the name
    # "OWNER-is-not-a-role" was read as "OWNER" and Ringo became an owner
    auth.login(demo.JOHN)
    before = roles_snapshot(db)
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = _cut_role_body(csrf_token(client, "/orgs/1/roles"), limit, b"-not-a-role")
    assert _post_chunked(client, RINGO_PAGE, body).status_code == 413
    assert roles_snapshot(db) == before


def test_chunked_body_of_exactly_the_limit_is_read_whole(
    app: Flask, client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    # why: the extra byte read to detect an oversized body must not refuse this one
    auth.login(demo.JOHN)
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = _cut_role_body(csrf_token(client, "/orgs/1/roles"), limit, b"")
    assert _post_chunked(client, RINGO_PAGE, body).status_code == 302
    assert role_of(db, demo.RINGO, demo.BEATLES_ID) == "OWNER"


def test_chunked_small_body_is_read_normally(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    auth.login(demo.JOHN)
    token = csrf_token(client, "/orgs/1/roles")
    body = urlencode({"csrf_token": token, **RINGO_SHOWN, "name": "BILLING"})
    assert _post_chunked(client, RINGO_PAGE, body.encode()).status_code == 302
    assert role_of(db, demo.RINGO, demo.BEATLES_ID) == "BILLING"


class HttpUser:
    """A person's browser over real HTTP: keeps cookies, can send chunked bodies."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.email: str | None = None
        self.jar = CookieJar()
        self._opener = build_opener(HTTPCookieProcessor(self.jar))

    def page(self, path: str) -> str:
        """GET path (following redirects); the page's text."""
        with self._opener.open(self.url + path, timeout=10) as response:
            return response.read().decode()

    def login(self, email: str) -> None:
        """Log in through the form with the demo password."""
        token = csrf_in(self.page("/login"), "/login")
        form = {"email": email, "password": demo.PASSWORD, "csrf_token": token}
        with self._opener.open(
            self.url + "/login", urlencode(form).encode(), timeout=10
        ) as response:
            assert response.url.endswith("/orgs")
        self.email = email

    def cookie_header(self) -> str:
        """The Cookie header this browser sends."""
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

    def csrf_token(self) -> str:
        """A CSRF token of this browser's session (from the password page)."""
        return csrf_in(self.page("/account/password"), "/account/password")

    def post_form(self, path: str, data: dict[str, str]) -> int:
        """POST data as a form with this session's CSRF token; the status, not
        followed."""
        parts = urlsplit(self.url)
        assert parts.hostname is not None, self.url
        body = urlencode({**data, "csrf_token": self.csrf_token()})
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        headers = {"Content-Type": FORM, "Cookie": self.cookie_header()}
        try:
            connection.request("POST", path, body, headers)
            return connection.getresponse().status
        finally:
            connection.close()

    def post_chunked(self, path: str, body: bytes) -> int:
        """POST body with Transfer-Encoding: chunked, in 8 KiB chunks; the status."""
        parts = urlsplit(self.url)
        assert parts.hostname is not None, self.url
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        cookies = self.cookie_header()
        chunks = (body[i : i + 8192] for i in range(0, len(body), 8192))
        headers = {
            "Content-Type": FORM,
            "Cookie": cookies,
            "Transfer-Encoding": "chunked",
        }
        try:
            connection.request("POST", path, chunks, headers, encode_chunked=True)
            return connection.getresponse().status
        finally:
            connection.close()


@pytest.fixture
def http_user(app: Flask) -> Iterator[HttpUser]:
    """A browser talking to app served by Werkzeug on a free localhost port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield HttpUser(f"http://127.0.0.1:{server.server_port}")
    server.shutdown()
    thread.join(timeout=5)


def test_chunked_oversized_body_over_http_gets_413_and_changes_nothing(
    app: Flask, http_user: HttpUser, db: Session
) -> None:
    http_user.login(demo.JOHN)
    before = roles_snapshot(db)
    token = csrf_in(http_user.page("/orgs/1/roles"), "/orgs/1/roles")
    body = _cut_role_body(token, app.config["MAX_CONTENT_LENGTH"], b"-not-a-role")
    assert http_user.post_chunked(RINGO_PAGE, body) == 413
    assert roles_snapshot(db) == before


def test_chunked_small_body_over_http_is_read_normally(
    http_user: HttpUser, db: Session
) -> None:
    http_user.login(demo.JOHN)
    token = csrf_in(http_user.page("/orgs/1/roles"), "/orgs/1/roles")
    form = {"csrf_token": token, **RINGO_SHOWN, "name": "BILLING"}
    assert http_user.post_chunked(RINGO_PAGE, urlencode(form).encode()) == 302
    assert role_of(db, demo.RINGO, demo.BEATLES_ID) == "BILLING"


# --- dependencies -----------------------------------------------------------

MINIMUM_SAFE = {"flask": "3.1.3", "werkzeug": "3.1.6", "jinja2": "3.1.6"}


@pytest.mark.parametrize(("package", "minimum"), sorted(MINIMUM_SAFE.items()))
def test_dependencies_meet_minimum_safe_versions(package: str, minimum: str) -> None:
    assert Version(version(package)) >= Version(minimum)


def test_login_refused_when_the_password_changes_during_the_check(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # why: a login that verified the old password while a password change
    # committed used to start a session on the new token, old password and all
    real_verify = passwords.verify_password  # what auth_module calls

    def verify_then_change(password_hash: str | None, password: str) -> bool:
        result = real_verify(password_hash, password)
        with Session(app.extensions["portal.engine"]) as other:
            paul = other.scalar(select(User).where(User.email == demo.PAUL))
            assert paul is not None
            paul.password_hash = passwords.hash_password("a brand new passphrase")
            paul.rotate_session_token()
            other.commit()
        return result

    monkeypatch.setattr(auth_module, "verify_password", verify_then_change)
    response = AuthActions(client).login(demo.PAUL)
    assert response.status_code == 422
    assert "Wrong email or password." in response.text
    assert client.get("/orgs").status_code == 302  # not logged in
