"""Shared fixtures: a seeded database per test, the app, a client, and helpers
that log in (AuthActions) and post the role form (RoleActions)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from enum import Enum
from pathlib import Path
from weakref import WeakKeyDictionary

import pytest
from flask import Flask, session
from flask.testing import FlaskClient, FlaskCliRunner
from flask_wtf.csrf import generate_csrf
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal import create_app
from portal.domain import demo
from portal.domain.models import Organization, OrganizationRole, User
from portal.infra import migrate
from portal.infra.db import get_session
from portal.infra.passwords import ASVS, FAST, HashCost
from portal.web.sessions import start_session
from tests.apps import SharedApp, own_app
from tests.database import (
    PostgresSchemas,
    backends,
    committed,
    committed_scalar,
    postgres_required,
    postgres_server_url,
    postgres_unavailable,
    seed_demo,
)
from tests.routes import ACTORS
from tests.settings import app_settings

# --- mail (issue 19): a real SMTP server (aiosmtpd) as fixtures; see tests/smtp.py
from tests.smtp import (  # noqa: F401  (fixtures, registered by being imported)
    smtp_certificate,
    smtp_implicit_tls_server,
    smtp_server,
    smtp_tls_server,
)

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def pytest_report_header() -> str:
    """Say which backends the tests with a database run on."""
    return f"database backends: {', '.join(backends())} (see tests/database.py)"


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Run the tests about SQLite itself on SQLite only, and the tests of what no
    database changes (``one_backend``) on the first backend only: their other
    copies are deselected, not skipped, since they could not change an outcome."""
    first = backends()[0]
    kept, dropped = [], []
    for item in items:
        on = getattr(item, "callspec", None)
        backend = on.params.get("database_backend") if on is not None else None
        if (backend == "postgresql" and item.get_closest_marker("sqlite_only")) or (
            backend not in (None, first) and item.get_closest_marker("one_backend")
        ):
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


# Read by the test harness, not by the app: kept.
HARNESS_VARIABLES = {
    "PORTAL_TEST_DATABASES",
    "PORTAL_TEST_FULL",
    "PORTAL_TEST_POSTGRES_URL",
    "PORTAL_CHROMIUM",
    "PORTAL_TEST_SCREENSHOTS",
}


@pytest.fixture(autouse=True)
def instance_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty instance folder of the test's own, and none of the app's
    environment variables, for every app a test makes.

    why: the checkout's instance/config.py and the developer's shell (SECRET_KEY,
    DATABASE_URL, PORTAL_HTTPS, PORTAL_TRUSTED_HOSTS, ...) would otherwise reach
    every app the tests make, and a result could depend on whose machine it is.
    """
    for name in list(os.environ):
        app_setting = name in {"SECRET_KEY", "DATABASE_URL"} or name.startswith(
            "PORTAL_"
        )
        if app_setting and name not in HARNESS_VARIABLES:
            monkeypatch.delenv(name)
    path = tmp_path / "instance"
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(path))
    return path


@pytest.fixture
def hash_cost(request: pytest.FixtureRequest) -> HashCost:
    """The password hash cost of the test's apps and seeded data: argon2's
    minimum, or ASVS's for tests marked asvs_hashing (about the real cost)."""
    return ASVS if request.node.get_closest_marker("asvs_hashing") else FAST


@pytest.fixture(params=backends())
def database_backend(request: pytest.FixtureRequest) -> str:
    """The backend of this run of a test that asks for a database."""
    backend: str = request.param
    return backend


@pytest.fixture(scope="session")
def sqlite_templates(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[HashCost], Path]:
    """Migrated, seeded SQLite files, one per hash cost, each made once.

    Built by the migrations (not create_all), so every test runs on the schema
    production gets.
    """
    made: dict[HashCost, Path] = {}

    def template(cost: HashCost) -> Path:
        if cost not in made:
            path = tmp_path_factory.mktemp("template") / "seeded.sqlite"
            seed_demo(f"sqlite:///{path}", cost)
            made[cost] = path
        return made[cost]

    return template


@pytest.fixture
def seeded_db_file(
    sqlite_templates: Callable[[HashCost], Path], hash_cost: HashCost
) -> Path:
    """The seeded SQLite file of the test's hash cost (copy it before use)."""
    return sqlite_templates(hash_cost)


def skip_without_postgres() -> None:
    """Skip the test when no PostgreSQL server answers (fail instead in CI)."""
    reason = postgres_unavailable()
    if reason is not None:
        if postgres_required():
            pytest.fail(f"PORTAL_REQUIRE_POSTGRES=1: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresSchemas]:
    """Schemas of their own for tests, on the PostgreSQL server."""
    skip_without_postgres()
    schemas = PostgresSchemas(postgres_server_url())
    yield schemas
    schemas.dispose()


@pytest.fixture(scope="session")
def postgres_templates(
    postgres: PostgresSchemas,
) -> Iterator[Callable[[HashCost], str]]:
    """Seeded schemas, one per hash cost, each made once per test process."""
    made: dict[HashCost, str] = {}

    def template(cost: HashCost) -> str:
        if cost not in made:
            url = postgres.create()
            seed_demo(url, cost)
            made[cost] = url
        return postgres.schema(made[cost])

    yield template
    for url in made.values():
        postgres.drop(url)


@pytest.fixture
def postgres_template(
    postgres_templates: Callable[[HashCost], str], hash_cost: HashCost
) -> str:
    """The seeded schema of the test's hash cost (copy it, never change it)."""
    return postgres_templates(hash_cost)


@pytest.fixture(scope="session")
def postgres_working_schema(postgres: PostgresSchemas) -> Iterator[str]:
    """This test process's working schema: made once by the migrations, its rows
    reset before each test that uses it (pg_url)."""
    url = postgres.create()
    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    postgres.drop(url)


@pytest.fixture
def pg_url(
    postgres: PostgresSchemas, postgres_working_schema: str, postgres_template: str
) -> str:
    """A schema holding exactly the seeded rows, on the PostgreSQL server, whatever
    the backend (tests about PostgreSQL itself use it directly): the process's
    working schema, reset for this test."""
    postgres.reset(postgres_working_schema, postgres_template)
    return postgres_working_schema


@pytest.fixture
def sqlite_db_url(seeded_db_file: Path, tmp_path: Path) -> str:
    """A seeded SQLite database of the test's own: a copy of the seeded file."""
    path = tmp_path / "portal.sqlite"
    shutil.copy(seeded_db_file, path)
    return f"sqlite:///{path}"


@pytest.fixture
def db_url(database_backend: str, request: pytest.FixtureRequest) -> str:
    """A seeded database for the test, on each backend in turn (see
    tests/database.py)."""
    fixture = "pg_url" if database_backend == "postgresql" else "sqlite_db_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def empty_db_url(
    database_backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """A database without tables, on each backend in turn."""
    if database_backend == "postgresql":
        postgres: PostgresSchemas = request.getfixturevalue("postgres")
        url = postgres.create()
        yield url
        postgres.drop(url)
        return
    yield f"sqlite:///{tmp_path / 'empty.sqlite'}"


def _test_app(db_url: str, hash_cost: HashCost) -> Flask:
    """A new app on db_url, CSRF on as in production."""
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": db_url,
            "HTTPS": False,  # the test client speaks plain HTTP
            **app_settings(hash_cost),
        }
    )


@pytest.fixture(scope="session")
def shared_apps() -> Iterator[dict[HashCost, SharedApp]]:
    """This process's apps, one per hash cost (see tests/apps.py)."""
    apps: dict[HashCost, SharedApp] = {}
    yield apps
    for shared in apps.values():
        shared.dispose()


@pytest.fixture
def app(
    request: pytest.FixtureRequest,
    db_url: str,
    hash_cost: HashCost,
    shared_apps: dict[HashCost, SharedApp],
) -> Iterator[Flask]:
    """The app on the test's own database, CSRF on as in production: this
    process's app, reset (tests/apps.py), or a new one for a test marked own_app."""
    if request.node.get_closest_marker("own_app"):
        yield from own_app(lambda: _test_app(db_url, hash_cost))
        return
    shared = shared_apps.get(hash_cost)
    if shared is None:
        shared = shared_apps[hash_cost] = SharedApp(
            lambda: _test_app(db_url, hash_cost)
        )
    # PostgreSQL's working schema outlives the test (pg_url resets it); each
    # SQLite test has a file of its own.
    with shared.on(db_url, keep_engine=not db_url.startswith("sqlite")) as made:
        yield made


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A session on the test database, separate from the app's request sessions.

    It keeps one transaction from its first read on, and on SQLite that transaction
    does not see later commits (a request's, say): check what changed with
    snapshot(), roles_snapshot(), role_of() or committed_scalar(), which read on a
    new connection.
    """
    with Session(app.extensions["portal.engine"]) as session:
        yield session


def csrf_in(page: str, where: str = "the page") -> str:
    """The CSRF token in a page's form (where names the page for the failure)."""
    match = CSRF_RE.search(page)
    assert match, f"no CSRF token on {where}"
    return match.group(1)


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of client's session, read from a page's form."""
    response = client.get(path)
    return csrf_in(response.get_data(as_text=True), f"{path} ({response.status_code})")


class AuthActions:
    """Log in and out through the real login form."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def login(
        self, email: str = demo.JOHN, password: str = demo.PASSWORD, next: str = ""
    ) -> TestResponse:
        token = csrf_token(self._client)
        url = f"/login?next={next}" if next else "/login"
        return self._client.post(
            url, data={"email": email, "password": password, "csrf_token": token}
        )

    def logout(self) -> TestResponse:
        token = csrf_token(self._client, "/orgs")
        return self._client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


class Token(Enum):
    """RoleActions.assign's default: fetch the session's CSRF token first."""

    FETCH = "fetch"


class RoleActions:
    """Post the role form of an organization as the client's logged-in user."""

    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def csrf_token(self) -> str:
        """The CSRF token of the client's session (from the organization list)."""
        return csrf_token(self._client, "/orgs")

    def assign(
        self,
        org_id: int | str,
        email: str,
        name: str | None,
        *,
        token: str | Token | None = Token.FETCH,
        **extra: str,
    ) -> TestResponse:
        """POST /orgs/<org_id>/roles: give email the role name.

        None leaves a field out of the form (name, or the token); by default a
        valid token is fetched first. extra adds more form fields.
        """
        data = {"user_email": email, **extra}
        if name is not None:
            data["name"] = name
        if token is Token.FETCH:
            token = self.csrf_token()
        if token is not None:
            data["csrf_token"] = token
        return self._client.post(f"/orgs/{org_id}/roles", data=data)


@pytest.fixture
def roles(client: FlaskClient) -> RoleActions:
    return RoleActions(client)


# The form token (CSRF) minted with each session below, by client.
_FORM_TOKENS: WeakKeyDictionary[FlaskClient, str] = WeakKeyDictionary()


def _start_session(client: FlaskClient, email: str | None) -> FlaskClient:
    """Put in client's cookie the session the login view starts once email's
    password checks out (portal.web.sessions.start_session, the same code; None:
    nobody's), with the CSRF token a page's form would carry (form_token)."""
    app = client.application
    with app.test_request_context(environ_base=client.environ_base):
        if email is not None:
            user = get_session().scalar(select(User).where(User.email == email))
            assert user is not None, f"no user {email}"
            start_session(user)
        _FORM_TOKENS[client] = generate_csrf()  # what a form's hidden field holds
        started = dict(session)
    with client.session_transaction() as cookie:
        cookie.clear()
        cookie.update(started)
    return client


def signed_in(client: FlaskClient, email: str) -> FlaskClient:
    """client, logged in as email without the form (see _start_session). A
    successful login leaves no row changed, so neither does this; tests of
    logging in use AuthActions.login."""
    return _start_session(client, email)


def form_token(client: FlaskClient) -> str:
    """The CSRF token of a client made by signed_in or client_for, as a page's
    form would carry it (no page fetched)."""
    return _FORM_TOKENS[client]


def client_for(app: Flask, actor: str) -> FlaskClient:
    """A new client logged in as actor of tests/routes.py (see signed_in; an
    anonymous one has a session holding its form token only)."""
    return _start_session(app.test_client(), ACTORS[actor])


def role_of(session: Session, email: str, org_id: int) -> str | None:
    """The role email holds in org_id, as committed (read on a new connection)."""
    return committed_scalar(
        session,
        select(OrganizationRole.name)
        .join(User)
        .where(User.email == email, OrganizationRole.organization_id == org_id),
    )


def roles_snapshot(session: Session) -> list[tuple[str, int, str]]:
    """Every role row as committed, for "nothing changed" assertions.

    Read on a new connection: see tests/database.py for why not through session.
    """
    statement = select(
        User.email, OrganizationRole.organization_id, OrganizationRole.name
    ).join(User)
    with committed(session) as connection:
        # Unpacking keeps the column types (tuple(row) would be tuple[object, ...]).
        return sorted(
            (email, org_id, name)
            for email, org_id, name in connection.execute(statement)
        )


def organization(session: Session, org_id: int) -> Organization:
    """The organization org_id, which the test expects to exist."""
    org = session.get(Organization, org_id)
    assert org is not None, f"no organization {org_id}"
    return org


def user_by_email(session: Session, email: str) -> User:
    """The user with that email, which the test expects to exist."""
    user = session.scalar(select(User).where(User.email == email))
    assert user is not None, f"no user {email}"
    return user
