"""The models' large collections: deleting a parent leaves its rows to the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, insert, select
from sqlalchemy.orm import Session

from portal.domain import demo
from portal.domain.models import Organization, OrganizationRole, Repository, User
from tests.conftest import organization
from tests.database import engine_of

REPOSITORIES = 2000


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements engine runs inside the block, lower-cased."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2].lower())  # (conn, cursor, statement, ...)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _count(session: Session, *where: Any) -> int:
    """How many repositories match where (all of them without a condition)."""
    statement = select(func.count()).select_from(Repository).where(*where)
    return session.execute(statement).scalar_one()


def _selects_of(seen: list[str], table: str) -> list[str]:
    """The SELECT statements among seen that read table."""
    return [s for s in seen if s.lstrip().startswith("select") and table in s]


def assert_organization_delete_loads_nothing(engine: Engine) -> None:
    """Delete a 2,000-repository organization: no SELECT of its rows, all gone."""
    with Session(engine) as session:
        org = Organization(name="Big")
        session.add(org)
        session.flush()
        session.execute(
            insert(Repository),
            [{"organization_id": org.id, "name": f"r{i}"} for i in range(REPOSITORIES)],
        )
        users = session.scalars(select(User).limit(3)).all()
        session.add_all(
            OrganizationRole(organization=org, user=u, name="MEMBER") for u in users
        )
        session.commit()
        org_id = org.id
        before = _count(session)
    with Session(engine) as session:
        org = organization(session, org_id)
        with statements(engine) as seen:
            session.delete(org)
            session.commit()
        assert _selects_of(seen, "repository") == []
        assert _selects_of(seen, "organization_role") == []
        assert _count(session, Repository.organization_id == org_id) == 0
        assert _count(session) == before - REPOSITORIES  # only that organization's
        roles = select(func.count()).where(OrganizationRole.organization_id == org_id)
        assert session.scalar(roles) == 0


def test_models_organization_delete_loads_no_repositories(db: Session) -> None:
    # why: without passive_deletes the ORM first loaded all 2,000 repositories
    # (and every role) to delete them one by one; ON DELETE CASCADE does it.
    assert_organization_delete_loads_nothing(engine_of(db))


def test_models_user_delete_loads_no_roles(db: Session) -> None:
    user_id = db.scalar(select(User.id).where(User.email == demo.PAUL))
    user = db.get(User, user_id)
    with statements(engine_of(db)) as seen:
        db.delete(user)
        db.commit()
    assert _selects_of(seen, "organization_role") == []
    roles = select(func.count()).where(OrganizationRole.user_id == user_id)
    assert db.scalar(roles) == 0


def test_models_repositories_are_never_loaded_whole(db: Session) -> None:
    # why: code that iterates organization.repositories would load thousands of
    # rows; the write-only collection refuses and offers a select() instead.
    org = organization(db, demo.BEATLES_ID)
    with pytest.raises(TypeError):
        iter(org.repositories)
    names = db.scalars(org.repositories.select()).all()
    assert [r.name for r in names] == demo.ORGANIZATIONS[demo.BEATLES_ID][2]
