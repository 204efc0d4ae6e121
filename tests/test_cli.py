"""The CLI: ``flask --app portal init-db`` and ``seed``, and ``python seed.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import Engine, create_engine, delete, inspect, select
from sqlalchemy.orm import Session

from portal import create_app
from portal.domain import demo
from portal.domain.models import (
    AuditEntry,
    Base,
    LoginFailure,
    Organization,
    OrganizationRole,
    RepositoryRole,
    User,
)
from portal.infra import migrate
from portal.infra.passwords import FAST, hash_password
from tests import factories
from tests.conftest import AuthActions
from tests.database import snapshot
from tests.settings import app_settings

ROOT = Path(__file__).resolve().parents[1]

# Every row of the demo data: users, organizations, repositories, roles, and
# repository roles granted directly.
DEMO_ROWS = (
    len(demo.USERS)
    + len(demo.ORGANIZATIONS)
    + sum(len(repos) for _, _, repos in demo.ORGANIZATIONS.values())
    + sum(len(roles) for roles in demo.ROLES.values())
    + sum(
        len(grants)
        for repositories in demo.REPOSITORY_ROLES.values()
        for grants in repositories.values()
    )
)


@pytest.fixture
def empty_app(empty_db_url: str) -> Iterator[Flask]:
    """The app on a database without tables."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "k",
            "DATABASE_URL": empty_db_url,
            "HTTPS": False,
            **app_settings(),
        }
    )
    yield app
    app.extensions["portal.engine"].dispose()


@pytest.fixture
def empty_runner(empty_app: Flask) -> FlaskCliRunner:
    return empty_app.test_cli_runner()


def flask(app: Flask, runner: FlaskCliRunner, *args: str) -> Result:
    """`flask --app portal <args>`, through runner.

    The flask command (FlaskGroup) pushes the app context for every command;
    app.cli, which the runner invokes, does not, and portal's commands are plain
    click commands without @with_appcontext. So push it here, as flask does.
    """
    with app.app_context():
        return runner.invoke(args=list(args))


def _at_head() -> str:
    """What init-db, seed and db upgrade say first: where the schema is now."""
    return f"Database at revision {migrate.head_revision()}.\n"


def _engine(app: Flask) -> Engine:
    return app.extensions["portal.engine"]


def _emails(app: Flask) -> set[str]:
    with Session(_engine(app)) as session:
        return set(session.scalars(select(User.email)))


# --- init-db ------------------------------------------------------------------


def test_cli_init_db_creates_every_table_on_an_empty_database(
    empty_app: Flask, empty_runner: FlaskCliRunner
) -> None:
    assert inspect(_engine(empty_app)).get_table_names() == []
    result = flask(empty_app, empty_runner, "init-db")
    assert result.exit_code == 0
    assert result.output == _at_head()
    tables = set(inspect(_engine(empty_app)).get_table_names())
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert all(rows == [] for rows in snapshot(_engine(empty_app)).values())


def test_cli_init_db_keeps_the_data_of_a_database(
    app: Flask, runner: FlaskCliRunner
) -> None:
    before = snapshot(_engine(app))
    assert flask(app, runner, "init-db").exit_code == 0
    assert snapshot(_engine(app)) == before


# --- seed ---------------------------------------------------------------------


def test_cli_seed_adds_the_demo_data(
    empty_app: Flask, empty_runner: FlaskCliRunner
) -> None:
    result = flask(empty_app, empty_runner, "seed")
    assert result.exit_code == 0
    assert result.output == _at_head() + f"Seeded: {DEMO_ROWS} new rows.\n"
    assert _emails(empty_app) == set(demo.USERS)
    with Session(_engine(empty_app)) as session:
        beatles = session.get(Organization, demo.BEATLES_ID)
        assert beatles is not None and beatles.name == "The Beatles"
        roles = {(role.user.email, role.name) for role in beatles.roles}
    assert roles == set(demo.ROLES[demo.BEATLES_ID].items())


def test_cli_seed_twice_says_already_seeded(
    empty_app: Flask, empty_runner: FlaskCliRunner
) -> None:
    flask(empty_app, empty_runner, "seed")
    before = snapshot(_engine(empty_app))
    result = flask(empty_app, empty_runner, "seed")
    assert result.exit_code == 0
    assert result.output == _at_head() + "Already seeded.\n"
    assert snapshot(_engine(empty_app)) == before


def test_cli_seed_adds_only_what_is_missing(app: Flask, runner: FlaskCliRunner) -> None:
    with Session(_engine(app)) as session:
        ringo = session.scalar(select(User.id).where(User.email == demo.RINGO))
        session.execute(
            delete(OrganizationRole).where(OrganizationRole.user_id == ringo)
        )
        session.commit()
    result = flask(app, runner, "seed")
    assert result.exit_code == 0
    # His role, and his role on Abbey Road, which went with it.
    assert result.output == _at_head() + "Seeded: 2 new rows.\n"
    assert flask(app, runner, "seed").output == _at_head() + "Already seeded.\n"


def test_cli_seed_if_empty_does_nothing_on_a_database_with_users(
    empty_app: Flask, empty_runner: FlaskCliRunner
) -> None:
    flask(empty_app, empty_runner, "init-db")
    with Session(_engine(empty_app)) as session:
        someone = factories.make_user(session).email
        session.commit()
    before = snapshot(_engine(empty_app))
    result = flask(empty_app, empty_runner, "seed", "--if-empty")
    assert result.exit_code == 0
    assert result.output == _at_head() + "Database has data: not seeding.\n"
    assert snapshot(_engine(empty_app)) == before
    assert _emails(empty_app) == {someone}


def test_cli_seed_if_empty_seeds_an_empty_database(
    empty_app: Flask, empty_runner: FlaskCliRunner
) -> None:
    result = flask(empty_app, empty_runner, "seed", "--if-empty")
    assert result.exit_code == 0
    assert result.output == _at_head() + f"Seeded: {DEMO_ROWS} new rows.\n"
    assert _emails(empty_app) == set(demo.USERS)


# --- seed.py ------------------------------------------------------------------


def _seed_script(database_url: str) -> subprocess.CompletedProcess[str]:
    """Run `python seed.py` from the checkout against database_url."""
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "seed-test"}
    return subprocess.run(
        [sys.executable, "seed.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_seed_scale_adds_the_scale_data_once(
    app: Flask, runner: FlaskCliRunner
) -> None:
    # The real sizes (a few seconds): the command must not need more than one
    # executemany per table to get there.
    # Organizations, repositories, users, roles, grantees' roles, grants.
    rows = 10_000 + 100_000 + 1_002 + 2_000 + 9_051 + 10_000
    first = flask(app, runner, "seed", "--scale")
    assert first.exit_code == 0, first.output
    assert (
        first.output == _at_head() + f"Already seeded.\nScale data: {rows} new rows.\n"
    )
    again = flask(app, runner, "seed", "--scale")
    assert again.output == _at_head() + "Already seeded.\nScale data: complete.\n"


def test_seed_script_seeds_a_new_database_once(empty_db_url: str) -> None:
    # why: a separate process, so the real argon2id hashing runs and the
    # environment is the only configuration it gets
    first = _seed_script(empty_db_url)
    assert first.returncode == 0, first.stderr
    assert first.stdout == f"Seeded {DEMO_ROWS} new rows.\n"
    again = _seed_script(empty_db_url)
    assert again.returncode == 0, again.stderr
    assert again.stdout == "Seeded 0 new rows.\n"
    engine = create_engine(empty_db_url)
    with Session(engine) as session:
        assert set(session.scalars(select(User.email))) == set(demo.USERS)
    engine.dispose()


def test_cli_commands_are_the_ones_tested_here(app: Flask) -> None:
    # why: a new command must come with its tests in this module (the db group's
    # in tests/test_migrations.py, the administration commands' in
    # tests/test_admin_cli.py, the mail commands' in tests/test_mail.py)
    assert set(app.cli.commands) == {
        "init-db",
        "seed",
        "db",
        "create-user",
        "assign-role",
        "remove-role",
        "list-roles",
        "list-orgs",
        "create-org",
        "delete-org",
        "set-base-role",
        "prune-login-failures",
        "send-mail",
        "outbox",
        # Issue 19 (password reset): tested in tests/test_password_reset.py,
        # seed --reset-demo below.
        "set-password",
        "prune-password-resets",
        # Time-limited roles (issue 19): tested in tests/test_role_expiry.py.
        "sweep-expired",
        # Issue 19: tested with the invitations, in tests/test_invitations.py.
        "invite",
    }


def test_prune_login_failures_deletes_every_emails_expired_ones_only(
    app: Flask, runner: FlaskCliRunner
) -> None:
    # why: a login clears only its own email's expired failures; emails nobody
    # tries again would keep theirs for ever
    now = datetime(2026, 1, 1, 9, tzinfo=UTC)
    app.config["CLOCK"] = lambda: now
    with Session(app.extensions["portal.engine"]) as session:
        session.add_all(
            [
                LoginFailure(email="old@example.com", at=now - timedelta(hours=1)),
                LoginFailure(email="other@example.com", at=now - timedelta(days=3)),
                LoginFailure(email="new@example.com", at=now),
            ]
        )
        session.commit()
    result = flask(app, runner, "prune-login-failures")
    assert result.output == "Deleted 2 expired login failures.\n", result.output
    with Session(app.extensions["portal.engine"]) as session:
        left = session.scalars(select(LoginFailure.email)).all()
    assert left == ["new@example.com"]


# --- seed --reset-demo (issue 19) --------------------------------------------------


def _demo_state(app: Flask) -> tuple[object, ...]:
    """The demo organizations' roles, grants and settings, as committed."""
    with Session(_engine(app)) as session:
        roles = sorted(
            (org, email, name, expires is None)
            for org, email, name, expires in session.execute(
                select(
                    OrganizationRole.organization_id,
                    User.email,
                    OrganizationRole.name,
                    OrganizationRole.expires_at,
                ).join(User)
            )
        )
        grants = sorted(
            (repo, email, name)
            for repo, email, name in session.execute(
                select(
                    RepositoryRole.repository_id, User.email, RepositoryRole.name
                ).join(User, User.id == RepositoryRole.user_id)
            )
        )
        settings = sorted(
            (org_id, billing, base)
            for org_id, billing, base in session.execute(
                select(
                    Organization.id,
                    Organization.billing_address,
                    Organization.base_repository_role,
                )
            )
        )
    return roles, grants, settings


def _logs_in(app: Flask, email: str, password: str) -> bool:
    response = AuthActions(app.test_client()).login(email, password)
    return response.status_code == 302 and response.location == "/orgs"


def test_cli_seed_reset_demo_puts_the_demo_back(
    app: Flask, runner: FlaskCliRunner
) -> None:
    # why: a demo played with (passwords changed, roles moved, an owner gone)
    # must come back as the login page describes it, in one command
    seeded = _demo_state(app)
    with Session(_engine(app)) as session:
        users = {u.email: u for u in session.scalars(select(User))}
        stranger = factories.make_user(session, "stranger@example.com")
        session.flush()
        paul = users[demo.PAUL]
        paul.password_hash = hash_password("someone else's password", FAST)
        beatles = session.get(Organization, demo.BEATLES_ID)
        assert beatles is not None
        beatles.billing_address = "Nowhere"
        beatles.base_repository_role = None
        for role in session.scalars(select(OrganizationRole)):
            if role.user_id == users[demo.JOHN].id:
                role.name = "MEMBER"
            if role.user_id == users[demo.PAUL].id:
                role.name = "OWNER"
                role.expires_at = datetime(2030, 1, 1, tzinfo=UTC)
            if role.user_id == users[demo.RINGO].id:
                session.delete(role)
            if role.user_id == users[demo.GEORGE].id:
                role.expires_at = datetime(2030, 1, 1, tzinfo=UTC)  # same role
        session.add(
            OrganizationRole(
                user=stranger, organization_id=demo.BEATLES_ID, name="OWNER"
            )
        )
        session.execute(
            delete(RepositoryRole).where(RepositoryRole.user_id == users[demo.SULLY].id)
        )
        session.commit()
    assert _demo_state(app) != seeded
    result = flask(app, runner, "seed", "--reset-demo")
    assert result.exit_code == 0, result.output
    assert "Demo data put back (" in result.output
    assert _demo_state(app) == seeded
    for email in demo.USERS:
        assert _logs_in(app, email, demo.PASSWORD), email
    assert "stranger@example.com" in _emails(app)  # other accounts are left
    with Session(_engine(app)) as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.actor_email.is_(None))
        ).all()
    # The role and setting changes were audited, as the command line's.
    assert {
        "change",
        "remove",
        "billing_address",
        "base_repository_role",
        "role_expiry",
    } <= set(actions)
    with Session(_engine(app)) as session:
        expiring = session.scalars(
            select(OrganizationRole).where(OrganizationRole.expires_at.is_not(None))
        ).all()
    assert expiring == []  # the demo's roles never expire
    again = flask(app, runner, "seed", "--reset-demo")
    assert again.exit_code == 0
    assert _demo_state(app) == seeded


def test_cli_seed_reset_demo_ends_demo_sessions(
    app: Flask, runner: FlaskCliRunner
) -> None:
    client = app.test_client()
    AuthActions(client).login(demo.JOHN)
    assert client.get("/orgs").status_code == 200
    assert flask(app, runner, "seed", "--reset-demo").exit_code == 0
    assert client.get("/orgs").status_code == 302
