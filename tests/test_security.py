"""Sessions, passwords, login throttling, CSRF, headers and dependency versions."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from importlib.metadata import version

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner
from packaging.version import Version
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal import create_app, demo, passwords
from portal.models import LoginFailure, User
from portal.sessions import SESSION_EXPIRED
from tests.conftest import (
    AuthActions,
    RoleActions,
    client_for,
    csrf_token,
    roles_snapshot,
)
from tests.database import committed_scalar
from tests.routes import ACTORS, routes


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
    app = create_app({"SECRET_KEY": "k", "DATABASE_URL": db_url})  # HTTPS by default
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


def test_logout_after_idle_expiry_still_kills_copied_cookies(
    app: Flask, client: FlaskClient, auth: AuthActions, clock: Clock
) -> None:
    # why: the thief keeps their copy active; the owner comes back after the idle
    # timeout and logs out. The logout must still rotate the token.
    auth.login(demo.PAUL)
    token = csrf_token(client, "/orgs")  # the Log out button on an open page
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
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
    thief.set_cookie("session", client.get_cookie("session").value)
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


def test_passwords_are_argon2id_at_asvs_parameters(db: Session) -> None:
    stored = db.scalar(select(User.password_hash).where(User.email == demo.JOHN))
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_password(stored, demo.PASSWORD)
    assert not passwords.verify_password(stored, demo.PASSWORD + "x")


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
    clients = [app.test_client() for _ in range(count)]
    tokens = [csrf_token(c) for c in clients]
    barrier = threading.Barrier(count)
    statuses: list[int] = []

    def guess(client: FlaskClient, token: str) -> None:
        data = {"email": email, "password": "wrong", "csrf_token": token}
        barrier.wait()
        statuses.append(client.post("/login", data=data).status_code)

    threads = [
        threading.Thread(target=guess, args=pair)
        for pair in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses)


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
    other = create_app({"SECRET_KEY": "k", "DATABASE_URL": db_url, "HTTPS": False})
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
    before = roles_snapshot(db)
    assert roles.assign(1, demo.RINGO, "OWNER", token=token).status_code == 400
    assert roles_snapshot(db) == before
    assert roles.assign(1, demo.RINGO, "OWNER").status_code == 302  # control


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
        assert response.headers["Referrer-Policy"] == "same-origin", path
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
    app = create_app({"SECRET_KEY": "k", "DATABASE_URL": db_url, "HTTPS": False})
    client = app.test_client()
    assert client.get("/orgs//1", headers={"Host": "evil.example"}).status_code == 400
    ok = client.get("/login", headers={"Host": "portal.example.com"})
    assert ok.status_code == 200
    app.extensions["portal.engine"].dispose()


def test_headers_on_static_files(client: FlaskClient) -> None:
    response = client.get("/static/portal.css")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response.headers
    response.close()


def test_templates_have_no_inline_script_or_style(app: Flask) -> None:
    # why: the CSP forbids them; the browser would silently drop them
    for name in app.jinja_env.list_templates():
        source = app.jinja_env.loader.get_source(app.jinja_env, name)[0]
        assert "<script" not in source and "<style" not in source, name
        assert "style=" not in source and " on" + "click" not in source, name


def test_oversized_request_body_gets_413(
    auth: AuthActions, roles: RoleActions, db: Session
) -> None:
    auth.login(demo.JOHN)
    before = roles_snapshot(db)
    response = roles.assign(1, "a" * 100_000, "OWNER")
    assert response.status_code == 413
    assert roles_snapshot(db) == before


# --- dependencies -----------------------------------------------------------

MINIMUM_SAFE = {"flask": "3.1.3", "werkzeug": "3.1.6", "jinja2": "3.1.6"}


@pytest.mark.parametrize(("package", "minimum"), sorted(MINIMUM_SAFE.items()))
def test_dependencies_meet_minimum_safe_versions(package: str, minimum: str) -> None:
    assert Version(version(package)) >= Version(minimum)
