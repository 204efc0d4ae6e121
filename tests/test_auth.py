"""Login, logout, sessions and the next parameter, over HTTP."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.auth import BAD_CREDENTIALS, safe_next
from portal.domain import demo
from tests.conftest import AuthActions, csrf_token, user_by_email


def test_login_page_renders_the_form(client: FlaskClient) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    assert 'name="email"' in response.text and 'name="password"' in response.text


def test_login_redirects_to_organizations(auth: AuthActions) -> None:
    response = auth.login(demo.PAUL)
    assert response.status_code == 302
    assert response.location == "/orgs"


def test_login_follows_a_safe_next(auth: AuthActions) -> None:
    assert auth.login(demo.PAUL, next="/orgs/1/repos").location == "/orgs/1/repos"


@pytest.mark.parametrize(
    ("email", "password"),
    [
        (demo.PAUL, "wrong"),
        ("nobody@example.com", demo.PASSWORD),
        (demo.PAUL.upper() + "x", demo.PASSWORD),
    ],
)
def test_login_bad_credentials_get_one_generic_message(
    auth: AuthActions, client: FlaskClient, email: str, password: str
) -> None:
    response = auth.login(email, password)
    assert response.status_code == 422
    assert BAD_CREDENTIALS in response.text
    assert client.get("/orgs").status_code == 302  # still logged out


@pytest.mark.parametrize("missing", ["email", "password"])
def test_login_empty_field_gets_a_message(client: FlaskClient, missing: str) -> None:
    data = {
        "email": demo.PAUL,
        "password": demo.PASSWORD,
        "csrf_token": csrf_token(client),
    }
    data[missing] = ""
    response = client.post("/login", data=data)
    assert response.status_code == 422
    assert f"Enter your {missing}." in response.text


def test_login_without_csrf_token_is_refused(client: FlaskClient) -> None:
    response = client.post(
        "/login", data={"email": demo.PAUL, "password": demo.PASSWORD}
    )
    assert response.status_code == 400
    assert client.get("/orgs").status_code == 302


def test_login_email_is_case_insensitive(auth: AuthActions) -> None:
    assert auth.login("  Paul@Beatles.com ").status_code == 302


def test_anonymous_users_are_sent_to_login_with_next(client: FlaskClient) -> None:
    response = client.get("/orgs/1/billing")
    assert response.status_code == 302
    assert response.location == "/login?next=/orgs/1/billing"


def test_root_redirects_to_organizations(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 302 and response.location == "/orgs"


def test_login_clears_the_session_before_logging_in(
    client: FlaskClient, auth: AuthActions
) -> None:
    # why: a value planted in the session before login (fixation) must not survive
    with client.session_transaction() as session:
        session["planted"] = "attacker"
    auth.login(demo.PAUL)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert "_user_id" in session


def test_session_cookie_holds_the_token_not_the_user_id(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    auth.login(demo.PAUL)
    paul = user_by_email(db, demo.PAUL)
    with client.session_transaction() as session:
        assert session["_user_id"] == paul.session_token != str(paul.id)


def test_logout_requires_post(client: FlaskClient, auth: AuthActions) -> None:
    auth.login(demo.PAUL)
    assert client.get("/logout").status_code == 405
    assert client.get("/orgs").status_code == 200


def test_logout_without_csrf_is_refused(client: FlaskClient, auth: AuthActions) -> None:
    auth.login(demo.PAUL)
    assert client.post("/logout").status_code == 400
    assert client.get("/orgs").status_code == 200


def test_logout_kills_a_copied_session_cookie(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.PAUL)
    cookie = client.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/orgs").status_code == 200  # the copy works while logged in
    response = auth.logout()
    assert response.status_code == 302 and response.location == "/login"
    assert thief.get("/orgs").status_code == 302  # and is dead after logout
    assert client.get("/orgs").status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "///evil.com",
        "https://evil.com",
        "http:evil.com",
        "javascript:alert(1)",
        "/\\evil.com",
        "\\\\evil.com",
        "/\t/evil.com",
        "/\n/evil.com",
        " /orgs",
        "orgs/1",
        "",
        "data:text/html,x",
    ],
)
def test_safe_next_refuses_offsite_targets(target: str) -> None:
    assert safe_next(target) is None


@pytest.mark.parametrize("target", ["/orgs", "/orgs/1/repos", "/orgs?x=1"])
def test_safe_next_keeps_local_paths(target: str) -> None:
    assert safe_next(target) == target


def test_login_ignores_an_offsite_next(auth: AuthActions) -> None:
    assert auth.login(demo.PAUL, next="//evil.com").location == "/orgs"
