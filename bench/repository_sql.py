"""The SQL of ``authorized("READ", Repository)`` at scale: plans and timings.

    .venv/bin/python bench/repository_sql.py              # SQLite and PostgreSQL
    .venv/bin/python bench/repository_sql.py --sqlite-only
    .venv/bin/python bench/repository_sql.py --explain    # print every plan too

Builds ``seed --scale`` data (portal/domain/scale.py: 10,000 organizations,
100,000 repositories, 10,000 repository roles granted directly) on a new SQLite
file and, unless told not to, on a schema of its own on the tests' PostgreSQL
server (tests/database.py), then times the statements the repository lists run,
as the pages build them (the policy's filter; the organization's, ordered by
name and id, for /orgs/<id>/repos; joined with the organization and ordered by
its name then the repository's for /repos; a page of 50, and the count the
pager asks when the page is full):

- the 5,000-repository organization, seen by its owner and by a MEMBER with no
  base role and 500 repository roles granted there (the user with 1,000);
- every organization's repositories (no organization filter) the user with
  1,000 repository roles may read, and those the user with 1,000 organization
  roles may read.

Wall-clock medians of warm runs (the statement run once before): the database's
time, which is what an index or the adapter's SQL changes. Reported, no budget.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Select, create_engine, select, text
from sqlalchemy.orm import Session

from portal import create_app
from portal.authz import get_oso
from portal.domain import demo, name_search, paging, scale
from portal.domain.models import Organization, Repository, User
from portal.infra import db as portal_db
from portal.infra import migrate
from tests.database import postgres_schema, postgres_unavailable


def build(url: str) -> float:
    """The demo and scale data on url (migrated first); seconds it took."""
    start = time.perf_counter()
    engine = create_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as session:
        demo.seed_database(session)
        scale.seed_scale(session)
        session.commit()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        ) as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - start


def statements(session: Session) -> Iterator[tuple[str, Select[Any]]]:
    """(what, statement) for each list and its count, as the pages run them."""
    oso = get_oso()

    def user(email: str) -> User:
        found = session.scalar(select(User).where(User.email == email))
        assert found is not None, email
        return found

    big = session.scalar(
        select(Organization.id).where(Organization.name == scale.org_name(1))
    )
    owner, grantee = user(scale.USER_WITH_ROLES), user(scale.USER_WITH_GRANTS)
    in_big = Repository.organization_id == big
    lists = [
        ("big org, owner", oso.authorized_query(owner, "READ", Repository), in_big),
        (
            "big org, member with grants",
            oso.authorized_query(grantee, "READ", Repository),
            in_big,
        ),
        (
            "big org, owner, searched",
            name_search.matching(
                oso.authorized_query(owner, "READ", Repository),
                Repository.name,
                "repository 1",
            ),
            in_big,
        ),
        (
            "all orgs, user with 1,000 grants",
            oso.authorized_query(grantee, "READ", Repository),
            None,
        ),
        (
            "all orgs, user with 1,000 roles",
            oso.authorized_query(owner, "READ", Repository),
            None,
        ),
    ]
    for what, readable, where in lists:
        if where is None:
            # /repos (portal/my_repositories.py): by organization, then name.
            ordered = readable.join(Repository.organization).order_by(
                Organization.name, Organization.id, Repository.name, Repository.id
            )
        else:
            # /orgs/<id>/repos (portal/web/repository_list.py).
            ordered = readable.where(where).order_by(Repository.name, Repository.id)
        yield f"{what}: page", ordered.limit(paging.PER_PAGE)
        yield f"{what}: count", paging._count(ordered)


def sql_of(session: Session, statement: Select[Any]) -> str:
    """statement as the database receives it, values inlined (for EXPLAIN)."""
    compiled = statement.compile(
        bind=session.get_bind(), compile_kwargs={"literal_binds": True}
    )
    return str(compiled)


def plan(session: Session, statement: Select[Any]) -> str:
    """The database's plan: EXPLAIN QUERY PLAN (SQLite) or EXPLAIN ANALYZE."""
    sql = sql_of(session, statement)
    if session.get_bind().dialect.name == "sqlite":
        rows = session.execute(text(f"EXPLAIN QUERY PLAN {sql}")).all()
        return "\n".join(f"  {row[0]:>3} {row[1]:>3} {row[3]}" for row in rows)
    rows = session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")).all()
    return "\n".join(f"  {row[0]}" for row in rows)


def measure(url: str, runs: int, explain: bool) -> None:
    """Time (and explain) every statement on url."""
    app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": url, "HTTPS": False})
    backend = url.split(":", 1)[0]
    print(f"\n## {backend}: warm wall-clock medians of {runs} runs")
    print(f"{'statement':<48}{'rows':>7}{'ms':>9}")
    with app.test_request_context():
        session = portal_db.get_session()
        for what, statement in statements(session):
            rows = session.execute(statement).all()
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                session.execute(statement).all()
                times.append(time.perf_counter() - start)
            shown = rows[0][0] if what.endswith("count") else len(rows)
            median = statistics.median(times) * 1000
            print(f"{what:<48}{shown:>7}{median:>9.2f}")
            if explain:
                print(plan(session, statement))
        if explain:
            print("\nSQL of the first statement:")
            print(sql_of(session, next(iter(statements(session)))[1]))
    app.extensions["portal.engine"].dispose()


@contextmanager
def postgres_url() -> Iterator[str | None]:
    """A schema of its own on the tests' PostgreSQL server, or None if none
    answers."""
    reason = postgres_unavailable()
    if reason is not None:
        print(f"PostgreSQL skipped: {reason}")
        yield None
        return
    with postgres_schema() as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    """Build the scale data, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs per statement")
    parser.add_argument("--explain", action="store_true", help="print the plans")
    parser.add_argument("--sqlite-only", action="store_true", help="no PostgreSQL")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'scale.sqlite'}"
        print(f"SQLite scale data built in {build(url):.1f} s")
        measure(url, args.runs, args.explain)
    if not args.sqlite_only:
        with postgres_url() as pg:
            if pg is not None:
                print(f"\nPostgreSQL scale data built in {build(pg):.1f} s")
                measure(pg, args.runs, args.explain)
    return 0


if __name__ == "__main__":
    sys.exit(main())
