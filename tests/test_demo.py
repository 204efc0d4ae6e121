"""The demo data: seeding again adds only what is missing, and loads no collection."""

from __future__ import annotations

import re

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
        # The repository, and Ringo's role on it, which went with it.
        assert demo.seed_database(db) == 2
        db.commit()
    # Each demo repository is looked up by its name, never the collection.
    whole = [
        s
        for s in seen
        if re.match(r"select .*\bfrom repository\s", s, re.DOTALL)
        and "name" not in s.split("where")[-1].split("order by")[0]
    ]
    assert not whole
    names = select(Repository.name).where(Repository.name == "Abbey Road")
    assert db.scalars(names).all() == ["Abbey Road"]
