"""The test scaffolding itself: snapshots and factories.

A helper that cannot see a change proves nothing, and data that is not there
makes a test pass for the wrong reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.orm import Session

from portal.domain import demo
from portal.domain.models import Base, Organization, OrganizationRole, Repository, User
from portal.infra.passwords import verify_password
from tests.conftest import AuthActions, role_of, roles_snapshot
from tests.database import PostgresSchemas, Snapshot, committed_scalar, snapshot
from tests.factories import (
    bulk_organizations,
    bulk_repositories,
    bulk_roles,
    bulk_users,
    make_organization,
    make_user,
    password_hash,
)


def _demote_ringo_elsewhere(app: Flask) -> None:
    """Make Ringo BILLING through another session, as a request would."""
    with Session(app.extensions["portal.engine"]) as other:
        ringo = other.scalar(select(User.id).where(User.email == demo.RINGO))
        other.execute(
            update(OrganizationRole)
            .where(OrganizationRole.user_id == ringo)
            .values(name="BILLING")
        )
        other.commit()


def test_snapshot_sees_a_commit_made_after_the_session_read(
    app: Flask, db: Session
) -> None:
    # why: the db session's transaction keeps its first view on SQLite; a snapshot
    # read through it made every "nothing changed" assertion pass vacuously
    before = snapshot(db)
    _demote_ringo_elsewhere(app)
    assert snapshot(db) != before


def test_roles_snapshot_sees_a_commit_made_after_the_session_read(
    app: Flask, db: Session
) -> None:
    before = roles_snapshot(db)
    _demote_ringo_elsewhere(app)
    assert roles_snapshot(db) != before


def test_role_of_sees_a_commit_made_after_the_session_read(
    app: Flask, db: Session
) -> None:
    assert role_of(db, demo.RINGO, demo.BEATLES_ID) == "MEMBER"
    _demote_ringo_elsewhere(app)
    assert role_of(db, demo.RINGO, demo.BEATLES_ID) == "BILLING"


def test_committed_scalar_sees_a_commit_made_after_the_session_read(
    app: Flask, db: Session
) -> None:
    ringo_role = (
        select(OrganizationRole.name).join(User).where(User.email == demo.RINGO)
    )
    assert db.scalar(ringo_role) == "MEMBER"
    _demote_ringo_elsewhere(app)
    assert committed_scalar(db, ringo_role) == "BILLING"


def test_snapshot_has_every_table_with_rows_by_primary_key(db: Session) -> None:
    tables = snapshot(db)
    assert list(tables) == [table.name for table in Base.metadata.sorted_tables]
    assert [row[0] for row in tables["user"]] == sorted(
        row[0] for row in tables["user"]
    )
    assert len(tables["user"]) == len(demo.USERS)


# --- factories ----------------------------------------------------------------


def test_password_hash_is_made_once_and_matches_the_demo_password() -> None:
    assert password_hash() is password_hash()
    assert verify_password(password_hash(), demo.PASSWORD)


def test_make_user_logs_in_with_the_demo_password(app: Flask, db: Session) -> None:
    user = make_user(db)
    db.commit()
    assert AuthActions(app.test_client()).login(user.email).status_code == 302


def test_make_user_emails_are_unique(db: Session) -> None:
    assert make_user(db).email != make_user(db).email


def test_make_organization_has_its_repositories(db: Session) -> None:
    org = make_organization(db, repositories=3)
    db.commit()
    count = select(func.count()).where(Repository.organization_id == org.id)
    assert committed_scalar(db, count) == 3


def test_bulk_repositories_inserts_every_row(db: Session) -> None:
    ids = bulk_repositories(db, demo.BEATLES_ID, 2_000, name="bulk {i:04}")
    db.commit()
    assert len(set(ids)) == 2_000
    names = select(func.count()).where(Repository.name.like("bulk %"))
    assert committed_scalar(db, names) == 2_000


def test_bulk_users_and_roles_give_access(app: Flask, db: Session) -> None:
    users = bulk_users(db, 3)
    orgs = bulk_organizations(db, 2, name="Bulk org {i}")
    bulk_roles(db, [(user, org, "MEMBER") for user in users for org in orgs])
    db.commit()
    email = committed_scalar(db, select(User.email).where(User.id == users[-1]))
    client = app.test_client()
    AuthActions(client).login(email)
    page = client.get("/orgs").text
    assert "Bulk org 0" in page and "Bulk org 1" in page


# --- databases ----------------------------------------------------------------


def _snapshot_of(url: str) -> Snapshot:
    engine = create_engine(url)
    rows = snapshot(engine)
    engine.dispose()
    return rows


def test_postgres_schema_copy_has_the_template_rows(
    pg_url: str, postgres: PostgresSchemas, postgres_template: str
) -> None:
    copied = _snapshot_of(pg_url)
    assert copied == _snapshot_of(postgres.url(postgres_template))
    assert len(copied["user"]) == len(demo.USERS)


def test_postgres_schema_copy_moves_the_id_sequences(pg_url: str) -> None:
    # why: copied ids leave a sequence at 1; the next insert would collide
    engine = create_engine(pg_url)
    with Session(engine) as session:
        session.add(Organization(name="After the copy"))
        session.add(User(email="after@example.com", password_hash="x"))
        session.commit()
    engine.dispose()


def test_postgres_schema_drop_ends_connections_left_open(
    postgres: PostgresSchemas,
) -> None:
    url = postgres.create()
    forgotten = create_engine(url).connect()
    forgotten.begin()
    forgotten.execute(text("CREATE TABLE t (id int)"))  # holds a lock on the schema
    postgres.drop(url)  # would wait for ever without ending the connection
    forgotten.invalidate()


def test_postgres_reset_restores_the_template_rows_over_a_test_left_open(
    pg_url: str, postgres: PostgresSchemas, postgres_template: str
) -> None:
    # why: the working schema is reused by every test of a process; whatever one
    # test changed, or left locked in an open transaction, must not reach the next
    forgotten = create_engine(pg_url).connect()
    forgotten.begin()
    forgotten.execute(text('DELETE FROM "user" WHERE email = :e'), {"e": demo.ADMIN})
    forgotten.execute(
        text(
            "INSERT INTO organization (name, name_key, billing_address)"
            " VALUES ('Left', 'left', '')"
        )
    )
    forgotten.execute(text("LOCK TABLE organization_role"))  # TRUNCATE would wait
    postgres.reset(pg_url, postgres_template)
    forgotten.invalidate()
    assert _snapshot_of(pg_url) == _snapshot_of(postgres.url(postgres_template))
    engine = create_engine(pg_url)
    with Session(engine) as session:  # the sequences are past the copied ids
        session.add(Organization(name="After the reset"))
        session.commit()
    engine.dispose()


def test_db_url_runs_on_each_backend_of_the_run(
    db_url: str, database_backend: str
) -> None:
    # why: a test that asks for a database must run once per backend
    assert db_url.startswith(
        {"sqlite": "sqlite:", "postgresql": "postgresql"}[database_backend]
    )


@pytest.mark.sqlite_only
def test_db_url_is_a_copy_of_the_seeded_sqlite_file(
    db_url: str, seeded_db_file: Path
) -> None:
    assert db_url.startswith("sqlite:///") and str(seeded_db_file) not in db_url
    assert _snapshot_of(db_url) == _snapshot_of(f"sqlite:///{seeded_db_file}")
