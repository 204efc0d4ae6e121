"""The demo data: seeding again adds only what is missing, and loads no collection."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from portal.domain import demo
from portal.domain.models import Repository
from tests.database import engine_of
from tests.test_models import statements


def test_demo_seed_again_adds_only_missing_rows(db: Session) -> None:
    # why: seeding read organization.repositories to find the existing names,
    # loading every repository of the organization (2,000 here) as objects.
    db.execute(delete(Repository).where(Repository.name == "Abbey Road"))
    db.execute(
        insert(Repository),
        [{"organization_id": demo.BEATLES_ID, "name": f"r{i}"} for i in range(2000)],
    )
    db.commit()
    with statements(engine_of(db)) as seen:
        assert demo.seed_database(db) == 1
        db.commit()
    assert not [s for s in seen if "repository.id" in s and s.startswith("select")]
    names = select(Repository.name).where(Repository.name == "Abbey Road")
    assert db.scalars(names).all() == ["Abbey Road"]
