"""Deny by default, proven as a table: every route x method x actor.

The table (tests/routes.py) is checked against app.url_map, so a new route without
an entry fails.
Every refused request leaves every row of the database unchanged.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from flask import Flask
from polar.exceptions import OsoError

from portal.domain import demo
from portal.web.guards import is_public
from tests.conftest import AuthActions, client_for, form_token
from tests.database import snapshot
from tests.routes import ACTORS, JSON_MATRIX, LOGIN, MATRIX, OK, PUBLIC, pages

CELLS = [(route, actor) for route in sorted(MATRIX) for actor in ACTORS]


def assert_connections_returned(app: Flask) -> None:
    """Every database connection the app's requests took is back in the pool.

    why: a request that keeps one (an error path that skips the teardown, a
    generator that outlives the response) starves the pool: 10 such requests
    and every later one waits, then fails
    """
    pool = app.extensions["portal.engine"].pool
    assert pool.checkedout() == 0, f"{pool.checkedout()} connections not returned"


def _routes(app: Flask) -> set[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for rule in app.url_map.iter_rules():
        # None would mean "any method"; Flask always lists a rule's methods.
        assert rule.methods is not None, rule
        routes.update(
            (rule.endpoint, method) for method in rule.methods - {"HEAD", "OPTIONS"}
        )
    return routes


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
        data = {"csrf_token": form_token(client)}
        if spec.form is not None:
            data.update(spec.form(ACTORS[actor]))
    before = snapshot(app.extensions["portal.engine"])
    response = client.open(spec.path, method=route[1], data=data)
    response.close()  # static files are streamed from an open file
    assert_connections_returned(app)
    expected = spec.expected[actor]
    if expected == LOGIN:
        assert response.status_code == 302
        assert urlsplit(response.location).path == "/login"
    else:
        assert response.status_code == expected
    if response.status_code >= 400 or actor not in spec.writes:
        # A refused request, or one that only reads: nothing may change.
        assert snapshot(app.extensions["portal.engine"]) == before


# The same outcomes as the HTML matrix, which runs on both databases; this one
# checks how they are said in JSON, which no database changes.
@pytest.mark.one_backend
@pytest.mark.parametrize(("route", "actor"), CELLS)
def test_routes_matrix_json(app: Flask, route: tuple[str, str], actor: str) -> None:
    """The JSON column: the same request as JSON (Accept, a JSON body of the same
    fields, the CSRF token in X-CSRFToken) gets the column's status, in JSON."""
    spec, method = MATRIX[route], route[1]
    client = client_for(app, actor)
    headers = {"Accept": "application/json"}
    body = None
    if method == "POST":
        page = "/login" if ACTORS[actor] is None else "/account/password"
        token = client.get(page, headers=headers).get_json()
        assert isinstance(token, dict)
        headers["X-CSRFToken"] = token["csrf_token"]
        body = spec.form(ACTORS[actor]) if spec.form is not None else {}
    before = snapshot(app.extensions["portal.engine"])
    response = client.open(spec.path, method=method, json=body, headers=headers)
    response.close()
    assert_connections_returned(app)
    expected = JSON_MATRIX[route][actor]
    assert response.status_code == expected, response.get_data(as_text=True)[:300]
    if route[0] not in {"static", "orgs.index"} and expected != 302:
        assert response.mimetype == "application/json"
        assert response.json is not None
        if route[0] != "health.healthz":
            assert response.json["csrf_token"]
        if expected >= 400:
            assert response.json["status"] == expected
            assert response.json["message"]
    if response.status_code >= 400 or actor not in spec.writes:
        assert snapshot(app.extensions["portal.engine"]) == before


@pytest.mark.parametrize("actor", ACTORS)
def test_routes_pages_are_every_html_answer(app: Flask, actor: str) -> None:
    # why: the header, XSS, hostile-input and Oso-call tests iterate pages(); a
    # route that renders HTML without being marked as a page would escape them all
    client = client_for(app, actor)
    for (_endpoint, method), spec in MATRIX.items():
        if method == "GET" and spec.expected[actor] == OK:
            response = client.get(spec.path)
            response.close()
            is_html = response.mimetype == "text/html"
            assert is_html == spec.html, f"{spec.path}: html={is_html} for {actor}"


def test_routes_pages_have_one_path_each() -> None:
    paths = [page.path for page in pages()]
    assert len(paths) == len(set(paths)) >= 7


def test_routes_matrix_size() -> None:
    # why: the note reports the size; a shrinking table should be noticed.
    assert len(CELLS) == len(MATRIX) * len(ACTORS) >= 78


@pytest.mark.parametrize("actor", ACTORS)
def test_routes_get_requests_change_nothing(app: Flask, actor: str) -> None:
    client = client_for(app, actor)
    before = snapshot(app.extensions["portal.engine"])
    for (_endpoint, method), spec in MATRIX.items():
        if method == "GET":
            client.get(spec.path).close()
            client.get(spec.path_for(demo.MONSTERS_ID)).close()
    assert snapshot(app.extensions["portal.engine"]) == before


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
@pytest.mark.parametrize("actor", ACTORS)
def test_routes_head_and_options_are_answered_cleanly(
    app: Flask, actor: str, method: str
) -> None:
    client = client_for(app, actor)
    # HEAD is a GET without the body: a path only POSTed to answers it 405.
    got = {spec.path for (_, verb), spec in MATRIX.items() if verb == "GET"}
    for spec in MATRIX.values():
        response = client.open(spec.path, method=method)
        response.close()
        assert response.status_code < 500, (method, spec.path)
        if method == "HEAD" and actor == "anonymous" and spec.expected[actor] == LOGIN:
            assert response.status_code == (302 if spec.path in got else 405)


@pytest.mark.own_app  # adds a route
def test_routes_tripwire_catches_a_view_without_a_check(app: Flask) -> None:
    @app.route("/forgotten")
    def forgotten() -> str:
        return "secret"

    client = app.test_client()
    AuthActions(client).login(demo.JOHN)
    with pytest.raises(OsoError, match="Authorize not called"):
        client.get("/forgotten")


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/orgs/999999", {}, 404),  # a loader's 404
        ("GET", "/no/such/page", {}, 404),  # routing's 404
        ("DELETE", "/orgs/1", {}, 405),
        ("POST", "/orgs/1/roles", {"data": {"user_email": "x"}}, 400),  # no CSRF
        ("POST", "/orgs/1/roles", {"data": {"x": "y" * 70_000}}, 413),
        ("GET", "/orgs/2/billing", {"headers": {"Accept": "application/json"}}, 404),
        ("GET", "/orgs", {"headers": {"Accept": "text/csv"}}, 406),
        ("POST", "/orgs/1/roles", {"json": [1, 2]}, 400),
    ],
)
def test_routes_every_kind_of_refusal_returns_its_connection(
    app: Flask, method: str, path: str, kwargs: dict[str, object], status: int
) -> None:
    client = client_for(app, "owner")
    response = client.open(path, method=method, **kwargs)  # type: ignore[arg-type]
    response.close()
    assert response.status_code == status
    assert_connections_returned(app)
