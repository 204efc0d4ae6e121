"""The scale data (portal/domain/scale.py): the issue's numbers, idempotent,
loggable-in."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from portal.domain import demo, scale
from portal.domain.models import Organization, OrganizationRole, Repository, User
from tests.conftest import AuthActions
from tests.database import snapshot

# The same shapes, small enough to seed in a blink.
SMALL = scale.Scale(
    organizations=12, repositories=80, big_org_repositories=60, members=7, user_roles=9
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
    # 10,000 organizations, 100,000 repositories, 1,001 users, 1,000 + 1,000 roles.
    assert created == 10_000 + 100_000 + 1_001 + 2_000


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
    # Two repositories, one user and the role they held.
    assert scale.seed_scale(db, SMALL) == 4


def test_scale_seed_leaves_the_demo_data_alone(db: Session) -> None:
    demo_orgs = select(Organization.id, Organization.name).order_by(Organization.id)
    before = db.execute(demo_orgs).all()
    demo_roles = _count(db, select(OrganizationRole.id))
    scale.seed_scale(db, SMALL)
    db.commit()
    after = db.execute(demo_orgs.where(Organization.id.in_([1, 2]))).all()
    assert after == before
    roles = _count(db, select(OrganizationRole.id))
    assert roles == demo_roles + (SMALL.user_roles + SMALL.members)


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
    for email in (scale.USER_WITH_ROLES, scale.MEMBER_EMAIL.format(SMALL.members)):
        response = auth.login(email, demo.PASSWORD)
        assert response.status_code == 302 and response.location == "/orgs", email
        auth.logout()
