"""Repository lists equal the policy's decisions, row by row, through changes.

The lists are SQL that data filtering builds from the policy (one EXISTS per
group of alternatives, portal/authz/adapter.py); the decisions are Polar queries
on one row (``Viewer.repository_role_in``, the organization's base role, the
viewer's role there). Two paths through one policy: on random organizations,
base roles, organization roles and repository roles granted directly, every list
(organizations, one organization's repositories, the viewer's repositories in
every organization) must hold exactly the rows whose decision allows READ, and
still after random changes made between requests, with the app's caches warm
(the same PortalOso throughout): a decision cached under a key that misses one
of the changed inputs would show here as a difference. About half the roles and
grants expire some hours before or after the start, and the clock moves on two
hours between rounds: an expired role or grant gives nothing, in lists and
decisions alike, from the request after its expiry.

The last tests pin that key (portal/authz/reads.py) one input at a time.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from oso import Oso
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from portal.authz import PortalOso, Viewer, get_oso
from portal.authz.policy import build_oso
from portal.domain import demo
from portal.domain.models import (
    REPOSITORY_ROLE_NAMES,
    ROLE_NAMES,
    Organization,
    OrganizationRole,
    Repository,
    RepositoryRole,
    User,
)
from portal.infra import db as portal_db
from tests.factories import (
    MovingClock,
    bulk_organizations,
    bulk_repositories,
    bulk_repository_roles,
    bulk_roles,
    bulk_users,
    expire_some,
)

POLICY = Path(__file__).resolve().parents[1] / "portal" / "policy.polar"
SEEDS = [7, 18]
ROUNDS = 4
CHANGES = 6  # random changes between two rounds
BASE_ROLES: tuple[str | None, ...] = (None, *REPOSITORY_ROLE_NAMES)
REPO_ACTIONS = {"READ", "PUSH", "LIST_ROLES", "UPDATE", "DELETE", "MANAGE_ROLES"}
# A member may see who has access to each repository of the organization, as
# they see its people (the page itself needs READ).
PEOPLE = "LIST_ROLES"


def _generate(session: Session, rng: random.Random, now: datetime) -> None:
    """8 organizations (random base roles) with 0-5 repositories, 6 users with
    random organization roles, and random grants to members; about half the
    roles and grants expire a few hours before or after now."""
    orgs = bulk_organizations(session, 8)
    for org_id in orgs:
        bulk_repositories(session, org_id, rng.randint(0, 5))
        session.execute(
            update(Organization)
            .where(Organization.id == org_id)
            .values(base_repository_role=rng.choice(BASE_ROLES))
        )
    users = bulk_users(session, 6)
    roles = bulk_roles(
        session,
        [
            (user_id, org_id, rng.choice(ROLE_NAMES))
            for user_id in users
            for org_id in rng.sample(orgs, rng.randint(1, 5))
        ],
    )
    expire_some(session, OrganizationRole, roles, now, rng.random)
    members = session.execute(
        select(OrganizationRole.user_id, Repository.id, Repository.organization_id)
        .join(
            Repository,
            Repository.organization_id == OrganizationRole.organization_id,
        )
        .where(OrganizationRole.user_id.in_(users))
    ).all()
    grants = bulk_repository_roles(
        session,
        [
            (user_id, repo_id, org_id, rng.choice(REPOSITORY_ROLE_NAMES))
            for user_id, repo_id, org_id in members
            if rng.random() < 0.3
        ],
    )
    expire_some(session, RepositoryRole, grants, now, rng.random)
    session.commit()


def _grant(session: Session, rng: random.Random) -> None:
    """Grant a random member a role on a repository they have none on."""
    candidates = session.execute(
        select(OrganizationRole.user_id, Repository.id, Repository.organization_id)
        .join(
            Repository,
            Repository.organization_id == OrganizationRole.organization_id,
        )
        .outerjoin(
            RepositoryRole,
            (RepositoryRole.repository_id == Repository.id)
            & (RepositoryRole.user_id == OrganizationRole.user_id),
        )
        .where(RepositoryRole.id.is_(None))
        .order_by(OrganizationRole.user_id, Repository.id)
    ).all()
    if candidates:
        user_id, repo_id, org_id = rng.choice(candidates)
        name = rng.choice(REPOSITORY_ROLE_NAMES)
        bulk_repository_roles(session, [(user_id, repo_id, org_id, name)])


def _change_grant(session: Session, rng: random.Random) -> None:
    """Give a random direct grant another role name."""
    grants = session.scalars(select(RepositoryRole).order_by(RepositoryRole.id)).all()
    if grants:
        grant = rng.choice(grants)
        others = [n for n in REPOSITORY_ROLE_NAMES if n != grant.name]
        grant.name = rng.choice(others)


def _revoke_grant(session: Session, rng: random.Random) -> None:
    """Take a random direct grant away."""
    ids = session.scalars(select(RepositoryRole.id).order_by(RepositoryRole.id)).all()
    if ids:
        session.execute(
            delete(RepositoryRole).where(RepositoryRole.id == rng.choice(ids))
        )


def _change_base_role(session: Session, rng: random.Random) -> None:
    """Set a random organization's base repository role to another value."""
    orgs = session.scalars(select(Organization).order_by(Organization.id)).all()
    organization = rng.choice(orgs)
    others = [b for b in BASE_ROLES if b != organization.base_repository_role]
    organization.base_repository_role = rng.choice(others)


def _change_org_role(session: Session, rng: random.Random) -> None:
    """Give a random organization role another name (its grants stay)."""
    roles = session.scalars(
        select(OrganizationRole).order_by(OrganizationRole.id)
    ).all()
    role = rng.choice(roles)
    role.name = rng.choice([n for n in ROLE_NAMES if n != role.name])


def _remove_org_role(session: Session, rng: random.Random) -> None:
    """Remove a random organization role (its grants go with it: the cascade)."""
    ids = session.scalars(
        select(OrganizationRole.id).order_by(OrganizationRole.id)
    ).all()
    session.execute(
        delete(OrganizationRole).where(OrganizationRole.id == rng.choice(ids))
    )


def _delete_repository(session: Session, rng: random.Random) -> None:
    """Delete a random repository (its grants go with it)."""
    ids = session.scalars(select(Repository.id).order_by(Repository.id)).all()
    if ids:
        session.execute(delete(Repository).where(Repository.id == rng.choice(ids)))


CHANGERS: tuple[Callable[[Session, random.Random], None], ...] = (
    _grant,
    _grant,
    _change_grant,
    _revoke_grant,
    _change_base_role,
    _change_org_role,
    _remove_org_role,
    _delete_repository,
)


def _change(session: Session, rng: random.Random) -> list[str]:
    """CHANGES random changes, each committed as a request would; their names."""
    made = []
    for _ in range(CHANGES):
        changer = rng.choice(CHANGERS)
        changer(session, rng)
        session.commit()
        made.append(changer.__name__)
    return made


def _compare_one_request(app: Flask, variant: PortalOso | None = None) -> int:
    """In one request: every user's lists against the per-row decisions of the
    same (cached) Oso, the app's or variant; the rows compared.
    (tests/test_authz_cache.py compares cached decisions with uncached Oso;
    uncached, each costs a Polar query and a few SQL ones, too slow for this
    many rows.)"""
    compared = 0
    with app.test_request_context():
        oso: PortalOso = variant or get_oso()
        session = portal_db.get_session()
        orgs = session.scalars(select(Organization).order_by(Organization.id)).all()
        repos = session.scalars(select(Repository).order_by(Repository.id)).all()
        for user in session.scalars(select(User).order_by(User.id)):
            viewer = Viewer(session, user.id)
            # As a list page does before deciding about its rows.
            viewer.know_repository_roles(repos)

            def reads(row: Organization | Repository) -> bool:
                return "READ" in oso.authorized_actions(viewer, row)  # noqa: B023

            def listed(model: type, *where: Any) -> set[Any]:
                statement = oso.authorized_query(user, "READ", model)  # noqa: B023
                return set(session.scalars(statement.where(*where)).all())

            who = user.email
            assert listed(Organization) == {o for o in orgs if reads(o)}, who
            readable = {r for r in repos if reads(r)}
            assert listed(Repository) == readable, who
            # As /repos runs it: joined with the organization, to sort by its
            # name (the filter's subqueries must not be tied to that join).
            mine = oso.authorized_query(user, "READ", Repository)
            mine = mine.join(Repository.organization)
            assert set(session.scalars(mine).all()) == readable, who
            for organization in orgs:
                in_org = Repository.organization_id == organization.id
                expected = {r for r in readable if r.organization_id == organization.id}
                assert listed(Repository, in_org) == expected, (who, organization)
            compared += len(orgs) + len(repos)
    return compared


@pytest.mark.parametrize("seed", SEEDS)
def test_repository_lists_equal_decisions_through_changes(
    app: Flask, db: Session, seed: int
) -> None:
    rng = random.Random(seed)
    clock = MovingClock()
    app.config["CLOCK"] = clock
    _generate(db, rng, clock.now)
    oso = get_oso(app)
    made: list[str] = []
    expired = _expired(app)
    for round_number in range(ROUNDS):
        hits = oso.cache_hits
        assert _compare_one_request(app) > 100, made
        if round_number:
            # why: with cold caches this would test nothing of their keys
            assert oso.cache_hits > hits
        made = _change(db, rng)
        # why: roles and grants expire between requests with no row changing
        clock.advance(hours=2)
    assert _expired(app) - expired, "nothing expired between rounds"


def _expired(app: Flask) -> set[tuple[str, int]]:
    """The organization roles and grants expired by now (the app's clock); and
    Python's side of ``active`` agrees with SQL's on every row."""
    with app.test_request_context():
        session = portal_db.get_session()
        found: set[tuple[str, int]] = set()
        active = set(
            session.scalars(select(OrganizationRole.id).where(OrganizationRole.active))
        )
        for role in session.scalars(select(OrganizationRole)):
            assert role.active == (role.id in active), role
            if not role.active:
                found.add(("OrganizationRole", role.id))
        active = set(
            session.scalars(select(RepositoryRole.id).where(RepositoryRole.active))
        )
        for grant in session.scalars(select(RepositoryRole)):
            assert grant.active == (grant.id in active), grant
            if not grant.active:
                found.add(("RepositoryRole", grant.id))
        return found


BASE_ROLE_RULE = "  name = organization.base_repository_role;\n"


def test_repository_lists_equal_decisions_with_not_equal_on_nil(
    app: Flask, db: Session, tmp_path: Path
) -> None:
    # why: the policy reads a nullable column; `nil != "WRITER"` holds in Polar
    # while `NULL != 'WRITER'` is NULL in SQL, so a variant that says "every
    # member reads the repositories of an organization whose base role is not
    # WRITER" listed none of an organization with no base role to its members
    text = POLICY.read_text()
    assert text.count(BASE_ROLE_RULE) == 1
    path = tmp_path / "variant.polar"
    path.write_text(
        text.replace(
            BASE_ROLE_RULE,
            BASE_ROLE_RULE
            + 'has_role(actor: Actor, "READER", repository: Repository) if\n'
            + '  has_relation(organization, "parent", repository) and\n'
            + '  has_role(actor, "MEMBER", organization) and\n'
            + '  organization.base_repository_role != "WRITER";\n',
        )
    )
    variant = build_oso(path)
    rng = random.Random(SEEDS[0])
    app.config["CLOCK"] = clock = MovingClock()
    _generate(db, rng, clock.now)
    # Not vacuous: Randall, a MEMBER of Monsters Inc. (no base role) with no
    # grant there, reads Paperwork through the variant's rule alone.
    with app.test_request_context():
        session = portal_db.get_session()
        randall = session.scalar(select(User).where(User.email == demo.RANDALL))
        statement = variant.authorized_query(randall, "READ", Repository)
        assert "Paperwork" in {r.name for r in session.scalars(statement)}
    for _ in range(ROUNDS):
        assert _compare_one_request(app, variant) > 100
        _change(db, rng)
        clock.advance(hours=2)


# --- the decision cache's key for a Repository ----------------------------------


def _actions_in_a_new_request(app: Flask, user_id: int, repo_id: int) -> set[str]:
    """What user_id may do to repo_id, asked in a request of its own (a new
    Viewer, as for a new HTTP request) of the app's Oso; checked against
    uncached Oso."""
    with app.test_request_context():
        oso: PortalOso = get_oso()
        session = portal_db.get_session()
        repository = session.get(Repository, repo_id)
        assert repository is not None
        actions = oso.authorized_actions(Viewer(session, user_id), repository)
        plain = Oso.authorized_actions(oso, Viewer(session, user_id), repository)
        assert actions == plain
        return {str(action) for action in actions}


def test_repository_decision_cache_sees_every_input_change(
    app: Flask, db: Session
) -> None:
    # why: the key (portal/authz/reads.py) holds the viewer's organization role,
    # the base role and the direct grant; an answer cached under a key missing
    # one would be served stale after that input changes
    [org_id] = bulk_organizations(db, 1)
    [repo_id] = bulk_repositories(db, org_id, 1)
    [user_id] = bulk_users(db, 1)
    [role_id] = bulk_roles(db, [(user_id, org_id, "MEMBER")])
    db.commit()
    oso = get_oso(app)

    def now(expected: set[str]) -> None:
        # Twice: the second answer comes from the cache and must agree.
        hits = oso.cache_hits
        assert _actions_in_a_new_request(app, user_id, repo_id) == expected
        assert _actions_in_a_new_request(app, user_id, repo_id) == expected
        assert oso.cache_hits > hits

    def change(statement: object) -> None:
        db.execute(statement)  # type: ignore[call-overload]
        db.commit()

    now({"READ", PEOPLE})  # the default base role, READER
    organization = update(Organization).where(Organization.id == org_id)
    change(organization.values(base_repository_role="WRITER"))
    now({"READ", "PUSH", PEOPLE})
    change(organization.values(base_repository_role=None))
    now({PEOPLE})
    [grant_id] = bulk_repository_roles(db, [(user_id, repo_id, org_id, "READER")])
    db.commit()
    now({"READ", PEOPLE})
    grant = update(RepositoryRole).where(RepositoryRole.id == grant_id)
    change(grant.values(name="ADMIN"))
    now(REPO_ACTIONS)
    change(grant.values(name="WRITER"))
    now({"READ", "PUSH", PEOPLE})
    role = update(OrganizationRole).where(OrganizationRole.id == role_id)
    change(role.values(name="OWNER"))
    now(REPO_ACTIONS)
    change(role.values(name="BILLING"))  # gives nothing; the grant stays
    now({"READ", "PUSH"})
    change(delete(RepositoryRole).where(RepositoryRole.id == grant_id))
    now(set())
    change(role.values(name="MEMBER"))
    change(organization.values(base_repository_role="ADMIN"))
    now(REPO_ACTIONS)
    change(delete(OrganizationRole).where(OrganizationRole.id == role_id))
    now(set())


def test_repository_decision_cache_keeps_users_apart(app: Flask, db: Session) -> None:
    # why: one user's direct grant must not answer for another member of the
    # same organization whose other inputs are the same
    [org_id] = bulk_organizations(db, 1)
    [repo_id] = bulk_repositories(db, org_id, 1)
    granted, other = bulk_users(db, 2)
    bulk_roles(db, [(granted, org_id, "MEMBER"), (other, org_id, "MEMBER")])
    db.execute(
        update(Organization)
        .where(Organization.id == org_id)
        .values(base_repository_role=None)
    )
    bulk_repository_roles(db, [(granted, repo_id, org_id, "WRITER")])
    db.commit()
    for _ in range(2):
        assert _actions_in_a_new_request(app, granted, repo_id) == {
            "READ",
            "PUSH",
            PEOPLE,
        }
        assert _actions_in_a_new_request(app, other, repo_id) == {PEOPLE}


def test_repository_list_subqueries_ignore_a_join_of_the_caller(
    app: Flask, db: Session
) -> None:
    # why: /repos joins the organization to sort by its name; SQLAlchemy tied
    # the filter's subquery over organization to that join, and the database
    # ran it for each of 100,000 repositories (0.3-1 s on PostgreSQL at scale)
    with app.test_request_context():
        session = portal_db.get_session()
        user = session.scalars(select(User).order_by(User.id)).first()
        statement = get_oso().authorized_query(user, "READ", Repository)
        sql = str(statement.join(Repository.organization).compile())
    assert "FROM organization, organization_role" in sql, sql
