"""Shared fixtures: a seeded database per test, the app, a client, and helpers
that log in (AuthActions) and post the role form (RoleActions)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from enum import Enum
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal import create_app, demo
from portal.models import Organization, OrganizationRole, User
from tests.database import (
    PostgresSchemas,
    backend,
    committed,
    committed_scalar,
    postgres_required,
    postgres_server_url,
    postgres_unavailable,
    seed_demo,
)
from tests.routes import ACTORS

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the tests about SQLite itself when the suite runs on PostgreSQL."""
    if backend() == "sqlite":
        return
    skip = pytest.mark.skip(reason=f"about SQLite; the backend is {backend()}")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


# Read by the test harness, not by the app: kept.
HARNESS_VARIABLES = {
    "PORTAL_TEST_DATABASE",
    "PORTAL_TEST_POSTGRES_URL",
    "PORTAL_CHROMIUM",
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


@pytest.fixture(scope="session")
def seeded_db_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded SQLite file, made once; each test gets its own copy.

    Built by the migrations (not create_all), so every test runs on the schema
    production gets. Hashing eight passwords with argon2id takes a while, so it
    is done once.
    """
    path = tmp_path_factory.mktemp("template") / "seeded.sqlite"
    seed_demo(f"sqlite:///{path}")
    return path


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
def postgres_template(postgres: PostgresSchemas) -> Iterator[str]:
    """A seeded schema, made once per session; each test gets its own copy."""
    url = postgres.create()
    seed_demo(url)
    yield postgres.schema(url)
    postgres.drop(url)


@pytest.fixture
def pg_url(postgres: PostgresSchemas, postgres_template: str) -> Iterator[str]:
    """A seeded schema of the test's own on the PostgreSQL server, whatever the
    backend (for tests about PostgreSQL itself); dropped afterwards."""
    url = postgres.create(copy_of=postgres_template)
    yield url
    postgres.drop(url)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A seeded database of the test's own, on the backend of this run.

    SQLite (default): a copy of the seeded file. PORTAL_TEST_DATABASE=postgresql:
    a copy of the seeded schema, dropped afterwards (see tests/database.py).
    """
    if backend() == "postgresql":
        yield request.getfixturevalue("pg_url")
        return
    path = tmp_path / "portal.sqlite"
    shutil.copy(request.getfixturevalue("seeded_db_file"), path)
    yield f"sqlite:///{path}"


@pytest.fixture
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database without tables, on the backend of this run."""
    if backend() == "postgresql":
        postgres: PostgresSchemas = request.getfixturevalue("postgres")
        url = postgres.create()
        yield url
        postgres.drop(url)
        return
    yield f"sqlite:///{tmp_path / 'empty.sqlite'}"


@pytest.fixture
def app(db_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app on the test's own database, CSRF on as in production."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret-key",
            "DATABASE_URL": db_url,
            "HTTPS": False,  # the test client speaks plain HTTP
        }
    )
    yield app
    app.extensions["portal.engine"].dispose()


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
        token: str | None | Token = Token.FETCH,
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


def client_for(app: Flask, actor: str) -> FlaskClient:
    """A new client logged in as actor of tests/routes.py (through the form)."""
    client = app.test_client()
    email = ACTORS[actor]
    if email is not None:
        assert AuthActions(client).login(email).status_code == 302
    return client


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
