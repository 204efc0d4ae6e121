"""The test scaffolding itself: a helper that cannot see a change proves nothing."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal import demo
from portal.models import Base, OrganizationRole, User
from tests.conftest import role_of, roles_snapshot
from tests.database import committed_scalar, snapshot


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
