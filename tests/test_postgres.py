"""The same app on a real PostgreSQL server: races, sequences, bad input.

SQLite ignores SELECT ... FOR UPDATE, so the organization row lock in
portal.domain.roles is exercised on PostgreSQL by these tests, which run once (pinned to
PostgreSQL, not parametrized by backend). Uses $PORTAL_TEST_POSTGRES_URL (default:
the local server's `test` database); each test works on the process's working
schema, reset to the seeded rows (the pg_url fixture of conftest.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from portal import create_app
from portal.domain import demo
from portal.domain.models import Organization
from portal.infra.db import make_engine
from tests.conftest import AuthActions, RoleActions, organization, role_of
from tests.database import PostgresSchemas, seed_demo
from tests.races import (
    PAGE_RACE_ROUNDS,
    RACES,
    race_owners_demoting_each_other,
    race_owners_through_the_pages,
    race_password_changes,
)
from tests.routes import TARGET_ID, TARGET_ROLE_ID
from tests.settings import app_settings
from tests.test_models import assert_organization_delete_loads_nothing
from tests.test_security import parallel_wrong_logins

# why: gunicorn servers and races measure time and contention; alone they
# neither slow the parallel part nor get slowed by it (see the Makefile).
pytestmark = pytest.mark.serial


@pytest.fixture
def pg_app(pg_url: str) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "k",
            "DATABASE_URL": pg_url,
            "HTTPS": False,
            **app_settings(),
        }
    )
    yield app
    app.extensions["portal.engine"].dispose()


def test_postgres_owners_demoting_each_other_leave_one_owner(pg_url: str) -> None:
    # why: without the row lock, this left zero owners in 8 of 20 rounds
    engine = make_engine(pg_url)
    race_owners_demoting_each_other(engine, rounds=100)
    engine.dispose()


def test_postgres_password_change_race_lets_exactly_one_win(pg_app: Flask) -> None:
    # why: READ COMMITTED lets both requests read the old hash; only the lock on
    # the user row and the re-check under it refuse the second change
    race_password_changes(pg_app, rounds=20)


@pytest.mark.parametrize("race", list(RACES))
def test_postgres_owners_racing_through_the_pages_keep_an_owner(
    pg_app: Flask, race: str
) -> None:
    # why: READ COMMITTED lets both requests read two owners; only the row lock
    # taken before authorizing serializes them. Without it: (302, 302) and zero
    # owners, 409 where the loser should have lost its rights, and a 500 on the
    # unique constraint when both add the same person
    outcomes = race_owners_through_the_pages(pg_app, race, rounds=PAGE_RACE_ROUNDS)
    assert outcomes == {RACES[race].statuses: PAGE_RACE_ROUNDS}


@pytest.fixture
def freshly_seeded_url(postgres: PostgresSchemas) -> Iterator[str]:
    """A schema seeded by demo.seed_database itself, not a copy of the template
    (whose sequences the copy sets)."""
    url = postgres.create()
    seed_demo(url)
    yield url
    postgres.drop(url)


def test_postgres_seeded_ids_and_sequence(freshly_seeded_url: str) -> None:
    # why: seeding with explicit ids once left the sequence at 1, so the next
    # organization collided with The Beatles' primary key
    engine = create_engine(freshly_seeded_url)
    with Session(engine) as session:
        assert organization(session, demo.BEATLES_ID).name == "The Beatles"
        session.add(Organization(name="New"))
        session.commit()
    engine.dispose()


def test_postgres_organization_delete_loads_no_repositories(pg_url: str) -> None:
    # why: passive_deletes hands 2,000 repositories to ON DELETE CASCADE, which
    # must hold on PostgreSQL as on SQLite.
    engine = make_engine(pg_url)
    assert_organization_delete_loads_nothing(engine)
    engine.dispose()


def test_postgres_login_throttle_holds_under_a_burst(pg_app: Flask) -> None:
    # why: PostgreSQL has no database-wide write lock; the advisory lock per
    # email is what keeps parallel guesses from all passing the count
    assert parallel_wrong_logins(pg_app, demo.PAUL, 24) == [422] * 10 + [429] * 14


def test_postgres_walkthrough_and_hostile_input(pg_app: Flask) -> None:
    client = pg_app.test_client()
    auth = AuthActions(client)
    assert auth.login("a\x00b@example.com").status_code == 422
    assert auth.login(demo.JOHN).status_code == 302
    assert client.get("/orgs/2147483648").status_code == 404
    assert client.get("/orgs/2").status_code == 404
    roles = RoleActions(client)
    token = roles.csrf_token()
    for email, name, status in [
        ("john\x00@beatles.com", "MEMBER", 422),
        (demo.RINGO, "ADMIN", 422),
        (demo.JOHN, "MEMBER", 409),
        # Issue 19: the form invites, and changes no member's role.
        (demo.RINGO, "BILLING", 409),
        ("newcomer@example.com", "BILLING", 302),
    ]:
        assert roles.assign(1, email, name, token=token).status_code == status
    assert (
        "Invitation sent to newcomer@example.com." in client.get("/orgs/1/roles").text
    )
    shown = {"current": "MEMBER", "current_id": str(TARGET_ROLE_ID)}
    changed = client.post(
        f"/orgs/1/roles/{TARGET_ID}",
        data={"csrf_token": token, "name": "BILLING", **shown},
    )
    assert changed.status_code == 302
    assert (
        "ringo@beatles.com is now a Billing manager. They can now see the billing"
        " details, open the settings and change the billing address; they can no"
        " longer see the repositories, create repositories or see who is here."
        in client.get(changed.location).text
    )


def test_postgres_lock_wait_is_cut_short_and_answered_503(pg_url: str) -> None:
    # why: a change that waited on the organization's row had no bound at all: it
    # hung for as long as the lock was held (40 s seen), then applied itself after
    # its client had given up
    pg_app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "k",
            "DATABASE_URL": pg_url,
            "HTTPS": False,
            "DATABASE_LOCK_TIMEOUT": 0.5,
            **app_settings(),
        }
    )
    client = pg_app.test_client()
    assert AuthActions(client).login(demo.JOHN).status_code == 302
    roles = RoleActions(client)
    token = roles.csrf_token()
    holder = create_engine(pg_app.config["DATABASE_URL"])
    with holder.connect() as other, other.begin():
        other.execute(
            select(Organization)
            .where(Organization.id == demo.BEATLES_ID)
            .with_for_update()
        )
        started = time.monotonic()
        response = roles.assign(1, demo.RINGO, "BILLING", token=token)
        waited = time.monotonic() - started
    holder.dispose()
    pg_app.extensions["portal.engine"].dispose()
    assert response.status_code == 503 and waited < 3
    assert response.headers["Retry-After"] == "2"
    assert "Another change is being made here" in response.text
    reader = make_engine(pg_url)
    with Session(reader) as session:
        assert role_of(session, demo.RINGO, demo.BEATLES_ID) == "MEMBER"
    reader.dispose()
