"""The scale data (portal/domain/scale.py): the issue's numbers, idempotent,
loggable-in."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from portal.domain import demo, scale
from portal.domain.models import (
    Organization,
    OrganizationRole,
    Repository,
    RepositoryRole,
    User,
)
from tests.conftest import AuthActions
from tests.database import snapshot

# The same shapes, small enough to seed in a blink.
SMALL = scale.Scale(
    organizations=12,
    repositories=80,
    big_org_repositories=60,
    members=7,
    user_roles=9,
    grants=16,
    user_grants=10,
    big_org_grants=8,
)


def _count(db: Session, statement: Select[Any]) -> int:
    """How many rows statement finds."""
    return db.scalar(select(func.count()).select_from(statement.subquery())) or 0


def _org_id(db: Session, number: int) -> int:
    org_id = db.scalar(
        select(Organization.id).where(Organization.name == scale.org_name(number))
    )
    assert org_id is not None, scale.org_name(number)
    return org_id


def _scale_orgs() -> Select[Any]:
    return select(Organization.id).where(Organization.name.like("Scale Org %"))


def _in_scale_orgs() -> Any:
    """The condition: a role in a scale organization."""
    return OrganizationRole.organization_id.in_(_scale_orgs())


def test_scale_seed_adds_the_issues_numbers(db: Session) -> None:
    created = scale.seed_scale(db)
    db.commit()
    assert _count(db, _scale_orgs()) == 10_000
    scale_repos = select(Repository.id).where(
        Repository.organization_id.in_(_scale_orgs())
    )
    assert _count(db, scale_repos) == 100_000
    big, small = _org_id(db, scale.BIG_ORG), _org_id(db, scale.SMALL_ORG)
    in_org = select(Repository.id).where(Repository.organization_id == big)
    assert _count(db, in_org) == 5_000
    in_org = select(Repository.id).where(Repository.organization_id == small)
    assert _count(db, in_org) == 1
    user = db.scalar(select(User).where(User.email == scale.USER_WITH_ROLES))
    assert user is not None and len(user.roles) == 1_000
    crowded = _org_id(db, scale.CROWDED_ORG)
    members = select(OrganizationRole.id).where(
        OrganizationRole.organization_id == crowded, OrganizationRole.name == "MEMBER"
    )
    assert _count(db, members) == 1_000
    grants = select(RepositoryRole.id).where(
        RepositoryRole.organization_id.in_(_scale_orgs())
    )
    assert _count(db, grants) == 10_000
    assert _count(db, grants.where(RepositoryRole.organization_id == big)) == 1_000
    grantee = db.scalar(select(User.id).where(User.email == scale.USER_WITH_GRANTS))
    assert _count(db, grants.where(RepositoryRole.user_id == grantee)) == 1_000
    bases = db.execute(
        select(Organization.base_repository_role, func.count())
        .where(Organization.id.in_(_scale_orgs()))
        .group_by(Organization.base_repository_role)
    )
    assert dict(bases.all()) == {
        None: 1_001,
        "WRITER": 999,
        "READER": 8_000,
    }
    # Grantees hold a role in the organization (the foreign key), so 9,051 more:
    # 51 for USER_WITH_GRANTS, 500 in the big organization, 8,500 elsewhere.
    roles = _count(db, select(OrganizationRole.id).where(_in_scale_orgs()))
    assert roles == 2_000 + 9_051
    # 10,000 organizations, 100,000 repositories, 1,002 users, the roles and grants.
    assert created == 10_000 + 100_000 + 1_002 + 2_000 + 9_051 + 10_000


def test_scale_seed_twice_adds_nothing(db: Session) -> None:
    scale.seed_scale(db, SMALL)
    db.commit()
    before = snapshot(db)
    assert scale.seed_scale(db, SMALL) == 0
    db.commit()
    assert snapshot(db) == before


def test_scale_seed_adds_back_only_what_is_missing(db: Session) -> None:
    scale.seed_scale(db, SMALL)
    big = _org_id(db, scale.BIG_ORG)
    db.execute(
        delete(Repository).where(
            Repository.organization_id == big,
            Repository.name.in_([scale.repo_name(1), scale.repo_name(60)]),
        )
    )
    db.execute(delete(User).where(User.email == scale.MEMBER_EMAIL.format(3)))
    db.commit()
    # Two repositories; one user with their 3 roles (crowded, big, organization
    # 12) and 2 grants (big, organization 12); USER_WITH_GRANTS's grant on
    # repository 1 of the big organization went with the repository.
    assert scale.seed_scale(db, SMALL) == 2 + 1 + 3 + 2 + 1


def test_scale_seed_grants_only_to_members(db: Session) -> None:
    # why: a repository role needs a role in its organization (foreign key)
    scale.seed_scale(db, SMALL)
    db.commit()
    grants = db.execute(
        select(RepositoryRole.user_id, RepositoryRole.organization_id).where(
            RepositoryRole.organization_id.in_(_scale_orgs())
        )
    ).all()
    assert len(grants) == SMALL.grants
    held = {
        (user_id, org_id)
        for user_id, org_id in db.execute(
            select(OrganizationRole.user_id, OrganizationRole.organization_id)
        )
    }
    assert {(user_id, org_id) for user_id, org_id in grants} <= held


def test_scale_grants_give_one_user_its_share_and_the_big_org_its_own() -> None:
    grants = scale.repository_grants(scale.Scale())
    assert len({(g.email, g.org, g.repo) for g in grants}) == len(grants) == 10_000
    mine = [g for g in grants if g.email == scale.USER_WITH_GRANTS]
    assert len(mine) == 1_000
    assert len([g for g in grants if g.org == scale.BIG_ORG]) == 1_000
    assert {g.role for g in mine} == {"READER", "WRITER", "ADMIN"}
    # The big organization gives its members nothing: they see what is granted.
    assert scale.base_repository_role(scale.BIG_ORG) is None
    assert {scale.base_repository_role(n) for n in range(1, 100)} == {
        None,
        "WRITER",
        "READER",
    }


def test_scale_seed_leaves_the_demo_data_alone(db: Session) -> None:
    demo_orgs = select(Organization.id, Organization.name).order_by(Organization.id)
    before = db.execute(demo_orgs).all()
    demo_roles = _count(db, select(OrganizationRole.id))
    scale.seed_scale(db, SMALL)
    db.commit()
    after = db.execute(demo_orgs.where(Organization.id.in_([1, 2]))).all()
    assert after == before
    roles = _count(db, select(OrganizationRole.id))
    # Grantees' memberships: USER_WITH_GRANTS in 4 organizations (big, 3, 4,
    # 5), 3 members in the big one and 3 in organizations 10-12.
    assert roles == demo_roles + (SMALL.user_roles + SMALL.members) + 4 + 3 + 3


def test_scale_seed_spreads_the_repositories_over_every_organization() -> None:
    counts = scale.repository_counts(scale.Scale())
    assert sum(counts.values()) == 100_000 and len(counts) == 10_000
    others = [count for number, count in counts.items() if number > scale.SMALL_ORG]
    assert min(others) >= 9 and max(others) <= 10


def test_scale_user_roles_mix_every_role_name() -> None:
    roles = scale.user_roles(scale.Scale())
    assert len(roles) == 1_000
    assert roles[scale.BIG_ORG] == roles[scale.CROWDED_ORG] == "OWNER"
    assert set(roles.values()) == {"OWNER", "MEMBER", "BILLING"}


@pytest.mark.parametrize(
    "sizes",
    [
        {"organizations": 2},
        {"user_roles": 20, "organizations": 10, "repositories": 5_100},
        {"repositories": 5_000},
        {"big_org_grants": 2_000},  # more than the crowded org's members
        {"grants": 20_000},  # more than one per organization left
        {"user_grants": 20_000},
    ],
)
def test_scale_refuses_sizes_without_the_shapes(sizes: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        scale.Scale(**sizes)


def test_scale_users_log_in_with_the_demo_password(
    db: Session, client: FlaskClient, auth: AuthActions
) -> None:
    scale.seed_scale(db, SMALL)
    db.commit()
    for email in (
        scale.USER_WITH_ROLES,
        scale.USER_WITH_GRANTS,
        scale.MEMBER_EMAIL.format(SMALL.members),
    ):
        response = auth.login(email, demo.PASSWORD)
        assert response.status_code == 302 and response.location == "/orgs", email
        auth.logout()
