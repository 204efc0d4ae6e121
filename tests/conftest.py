"""Shared fixtures: a seeded database per test, the app, a client and an auth helper."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal import create_app, demo, migrate
from portal.db import make_engine
from portal.models import Organization, OrganizationRole, User

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture(scope="session")
def seeded_db_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded SQLite file, made once; each test gets its own copy.

    Built by the migrations (not create_all), so every test runs on the schema
    production gets. Hashing eight passwords with argon2id takes a while, so it
    is done once.
    """
    path = tmp_path_factory.mktemp("template") / "seeded.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with Session(engine) as session:
        demo.seed_database(session)
        session.commit()
        ids = dict(session.execute(select(Organization.name, Organization.id)).all())
    # Tests use the constants; seeding a new database must produce them.
    assert ids == {name: org_id for org_id, (name, _, _) in demo.ORGANIZATIONS.items()}
    engine.dispose()
    return path


@pytest.fixture
def db_url(seeded_db_file: Path, tmp_path: Path) -> str:
    """A fresh copy of the seeded database for one test."""
    path = tmp_path / "portal.sqlite"
    shutil.copy(seeded_db_file, path)
    return f"sqlite:///{path}"


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
    """A session on the test database, separate from the app's request sessions."""
    with Session(app.extensions["portal.engine"]) as session:
        yield session


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of client's session, read from a page's form."""
    response = client.get(path)
    match = CSRF_RE.search(response.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({response.status_code})"
    return match.group(1)


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


def role_of(session: Session, email: str, org_id: int) -> str | None:
    """The role email holds in org_id, read straight from the database."""
    session.expire_all()
    return session.scalar(
        select(OrganizationRole.name)
        .join(User)
        .where(User.email == email, OrganizationRole.organization_id == org_id)
    )


def roles_snapshot(session: Session) -> list[tuple[str, int, str]]:
    """Every role row, for "nothing changed" assertions."""
    session.expire_all()
    return sorted(
        session.execute(
            select(User.email, OrganizationRole.organization_id, OrganizationRole.name)
            .join(User)
            .order_by(User.email)
        ).all()
    )


def organization(session: Session, org_id: int) -> Organization:
    org = session.get(Organization, org_id)
    assert org is not None
    return org
