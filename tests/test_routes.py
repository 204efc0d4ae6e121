"""Deny by default: every route is declared public or authorizes through Oso."""

from __future__ import annotations

import pytest
from flask import Flask
from polar.exceptions import OsoError

import seed
from portal.auth import is_public
from tests.conftest import AuthActions, csrf_token

# Routes anyone may reach. Adding a public route means adding it here, on purpose.
PUBLIC = {"static", "auth.login", "auth.logout", "orgs.index"}

# Every other route: (method, example path) with organization 1 where it takes one.
PROTECTED = {
    ("orgs.organization_list", "GET"): "/orgs",
    ("orgs.organization_show", "GET"): "/orgs/1",
    ("orgs.repository_list", "GET"): "/orgs/1/repos",
    ("orgs.billing_show", "GET"): "/orgs/1/billing",
    ("orgs.role_list", "GET"): "/orgs/1/roles",
    ("orgs.role_create", "POST"): "/orgs/1/roles",
}

# Organization-wide routes that a user with no role there sees as "not found".
ORG_SCOPED = {key for key, path in PROTECTED.items() if path.startswith("/orgs/1")}


def _routes(app: Flask) -> set[tuple[str, str]]:
    return {
        (rule.endpoint, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_routes_every_route_is_public_or_protected(app: Flask) -> None:
    unknown = {
        route
        for route in _routes(app)
        if route[0] not in PUBLIC and route not in PROTECTED
    }
    assert not unknown, f"routes in neither group: {sorted(unknown)}"
    assert set(PROTECTED) <= _routes(app), "PROTECTED lists a route that is gone"


def test_routes_public_marking_matches_the_list(app: Flask) -> None:
    marked = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if is_public(app, rule.endpoint)
    }
    assert marked == PUBLIC


@pytest.mark.parametrize(("route", "path"), sorted(PROTECTED.items()))
def test_routes_protected_send_anonymous_users_to_login(
    app: Flask, route: tuple[str, str], path: str
) -> None:
    client = app.test_client()
    data = {"csrf_token": csrf_token(client)} if route[1] == "POST" else None
    response = client.open(path, method=route[1], data=data)
    assert response.status_code == 302
    assert response.location.startswith("/login")


@pytest.mark.parametrize(("route", "path"), sorted(PROTECTED.items()))
def test_routes_protected_refuse_a_user_without_a_role(
    app: Flask, route: tuple[str, str], path: str
) -> None:
    client = app.test_client()
    AuthActions(client).login(seed.ADMIN)
    data = {
        "csrf_token": csrf_token(client, "/orgs"),
        "user_email": seed.ADMIN,
        "name": "OWNER",
    }
    response = client.open(
        path, method=route[1], data=data if route[1] == "POST" else None
    )
    if route in ORG_SCOPED:
        assert response.status_code == 404
    else:
        assert response.status_code == 200
        assert "The Beatles" not in response.text


@pytest.mark.parametrize(("route", "path"), sorted(PROTECTED.items()))
def test_routes_protected_authorize_for_an_owner(
    app: Flask, route: tuple[str, str], path: str
) -> None:
    # why: FlaskOso's tripwire raises (and TESTING propagates it) if a view that
    # answered did not authorize.
    client = app.test_client()
    AuthActions(client).login(seed.JOHN)
    data = {
        "csrf_token": csrf_token(client, "/orgs"),
        "user_email": seed.ADMIN,
        "name": "MEMBER",
    }
    response = client.open(
        path, method=route[1], data=data if route[1] == "POST" else None
    )
    assert response.status_code in (200, 302)


def test_routes_tripwire_catches_a_view_without_a_check(app: Flask) -> None:
    @app.route("/forgotten")
    def forgotten() -> str:
        return "secret"

    client = app.test_client()
    AuthActions(client).login(seed.JOHN)
    with pytest.raises(OsoError, match="Authorize not called"):
        client.get("/forgotten")
