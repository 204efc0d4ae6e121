"""Deny by default, proven as a table: every route x method x actor.

The table is checked against app.url_map, so a new route without an entry fails.
Every refused request leaves the database byte-for-byte unchanged.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from polar.exceptions import OsoError

from portal import demo
from portal.guards import is_public
from tests.conftest import AuthActions, csrf_token

# Who asks: anonymous, a user with no role anywhere, each role in The Beatles, and
# the owner of the other organization.
ACTORS: dict[str, str | None] = {
    "anonymous": None,
    "no_role": demo.ADMIN,
    "billing": demo.GEORGE,
    "member": demo.PAUL,
    "owner": demo.JOHN,
    "other_owner": demo.MIKE,
}

LOGIN = "login"  # 302 to the login page
OK = 200
GONE = 404
NO = 403
MOVED = 302  # a redirect that is the route's normal answer

FormData = Callable[[str | None], dict[str, str]]


def _role_form(email: str | None) -> dict[str, str]:
    return {"user_email": demo.ADMIN, "name": "MEMBER"}


def _password_form(email: str | None) -> dict[str, str]:
    new = "a brand new passphrase"
    return {"current_password": demo.PASSWORD, "new_password": new, "confirm": new}


def _login_form(email: str | None) -> dict[str, str]:
    return {"email": demo.RINGO, "password": demo.PASSWORD}


@dataclass
class Route:
    path: str
    expected: dict[str, int | str]
    form: FormData | None = None
    writes: set[str] = field(default_factory=set)  # actors whose request may write


def _everyone(outcome: int | str, anonymous: int | str = LOGIN) -> dict[str, int | str]:
    return {actor: (anonymous if actor == "anonymous" else outcome) for actor in ACTORS}


def _org(billing: int, member: int, owner: int) -> dict[str, int | str]:
    return {
        "anonymous": LOGIN,
        "no_role": GONE,
        "billing": billing,
        "member": member,
        "owner": owner,
        "other_owner": GONE,
    }


MATRIX: dict[tuple[str, str], Route] = {
    ("static", "GET"): Route("/static/portal.css", _everyone(OK, anonymous=OK)),
    ("health.healthz", "GET"): Route("/healthz", _everyone(OK, anonymous=OK)),
    ("orgs.index", "GET"): Route("/", _everyone(MOVED, anonymous=MOVED)),
    ("auth.login", "GET"): Route("/login", _everyone(MOVED, anonymous=OK)),
    ("auth.login", "POST"): Route(
        "/login", _everyone(MOVED, anonymous=MOVED), _login_form
    ),
    ("auth.logout", "POST"): Route(
        "/logout",
        _everyone(MOVED, anonymous=MOVED),
        writes={"no_role", "billing", "member", "owner", "other_owner"},
    ),
    ("orgs.organization_list", "GET"): Route("/orgs", _everyone(OK)),
    ("orgs.organization_show", "GET"): Route("/orgs/1", _org(OK, OK, OK)),
    ("orgs.repository_list", "GET"): Route("/orgs/1/repos", _org(NO, OK, OK)),
    ("orgs.billing_show", "GET"): Route("/orgs/1/billing", _org(OK, NO, OK)),
    ("members.role_list", "GET"): Route("/orgs/1/roles", _org(NO, OK, OK)),
    ("members.role_create", "POST"): Route(
        "/orgs/1/roles", _org(NO, NO, MOVED), _role_form, writes={"owner"}
    ),
    ("account.password_change", "GET"): Route("/account/password", _everyone(OK)),
    ("account.password_change", "POST"): Route(
        "/account/password",
        _everyone(MOVED),
        _password_form,
        writes={"no_role", "billing", "member", "owner", "other_owner"},
    ),
}

PUBLIC = {"static", "auth.login", "auth.logout", "orgs.index", "health.healthz"}

CELLS = [(route, actor) for route in sorted(MATRIX) for actor in ACTORS]


def _routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def dump(app: Flask) -> str:
    """The whole database as SQL text."""
    path = app.config["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        return "\n".join(connection.iterdump())


def client_for(app: Flask, actor: str) -> FlaskClient:
    """A client logged in as actor (through the form), or anonymous."""
    client = app.test_client()
    email = ACTORS[actor]
    if email is not None:
        assert AuthActions(client).login(email).status_code == 302
    return client


def test_routes_matrix_covers_every_route(app: Flask) -> None:
    missing = _routes(app) - set(MATRIX)
    assert not missing, f"routes without a row in MATRIX: {sorted(missing)}"
    assert set(MATRIX) <= _routes(app), "MATRIX lists a route that is gone"


def test_routes_public_marking_matches_the_list(app: Flask) -> None:
    marked = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if is_public(app, rule.endpoint)
    }
    assert marked == PUBLIC


@pytest.mark.parametrize(("route", "actor"), CELLS)
def test_routes_matrix(app: Flask, route: tuple[str, str], actor: str) -> None:
    spec = MATRIX[route]
    client = client_for(app, actor)
    data = None
    if route[1] == "POST":
        page = "/login" if ACTORS[actor] is None else "/account/password"
        data = {"csrf_token": csrf_token(client, page)}
        if spec.form is not None:
            data.update(spec.form(ACTORS[actor]))
    before = dump(app)
    response = client.open(spec.path, method=route[1], data=data)
    response.close()  # static files are streamed from an open file
    expected = spec.expected[actor]
    if expected == LOGIN:
        assert response.status_code == 302
        assert urlsplit(response.location).path == "/login"
    else:
        assert response.status_code == expected
    if response.status_code >= 400 or actor not in spec.writes:
        # A refused request, or one that only reads: nothing may change.
        assert dump(app) == before


def test_routes_matrix_size() -> None:
    # why: the note reports the size; a shrinking table should be noticed.
    assert len(CELLS) == len(MATRIX) * len(ACTORS) >= 78


@pytest.mark.parametrize("actor", ACTORS)
def test_routes_get_requests_change_nothing(app: Flask, actor: str) -> None:
    client = client_for(app, actor)
    before = dump(app)
    for (_endpoint, method), spec in MATRIX.items():
        if method == "GET":
            client.get(spec.path).close()
            client.get(spec.path.replace("/orgs/1", "/orgs/2")).close()
    assert dump(app) == before


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
@pytest.mark.parametrize("actor", ACTORS)
def test_routes_head_and_options_are_answered_cleanly(
    app: Flask, actor: str, method: str
) -> None:
    client = client_for(app, actor)
    for spec in MATRIX.values():
        response = client.open(spec.path, method=method)
        response.close()
        assert response.status_code < 500, (method, spec.path)
        if method == "HEAD" and actor == "anonymous" and spec.expected[actor] == LOGIN:
            assert response.status_code == 302


def test_routes_tripwire_catches_a_view_without_a_check(app: Flask) -> None:
    @app.route("/forgotten")
    def forgotten() -> str:
        return "secret"

    client = app.test_client()
    AuthActions(client).login(demo.JOHN)
    with pytest.raises(OsoError, match="Authorize not called"):
        client.get("/forgotten")
