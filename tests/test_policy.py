"""The policy, asked of Oso directly: every role x every action x own/other org."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from portal.authz import PortalOso, Viewer, get_oso
from portal.domain import demo, scale
from portal.domain.models import ROLE_NAMES, Organization, Repository, User
from portal.infra import db as portal_db
from tests.conftest import organization, user_by_email
from tests.factories import make_organization, make_role

ORG_ACTIONS = [
    "READ",
    "LIST_REPOS",
    "CREATE_REPO",
    "LIST_ROLES",
    "READ_BILLING",
    "CREATE_ROLE",
    "UPDATE_ROLE",
    "DELETE_ROLE",
    "READ_AUDIT",
    "UPDATE",
    "UPDATE_BILLING",
    "READ_SETTINGS",
    "DELETE",
]

# The permission table of DESIGN.md, written out independently of the policy.
EXPECTED: dict[str | None, set[str]] = {
    "OWNER": set(ORG_ACTIONS),
    "MEMBER": {"READ", "LIST_REPOS", "CREATE_REPO", "LIST_ROLES"},
    "BILLING": {"READ", "READ_BILLING", "UPDATE_BILLING", "READ_SETTINGS"},
    None: set(),
}

# A seeded user for each role in The Beatles; admin has no role anywhere.
USER_FOR_ROLE: dict[str | None, str] = {
    "OWNER": demo.JOHN,
    "MEMBER": demo.PAUL,
    "BILLING": demo.GEORGE,
    None: demo.ADMIN,
}


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    """A request context, which data filtering uses for its session."""
    with app.test_request_context():
        yield


def _user(email: str) -> User:
    return user_by_email(portal_db.get_session(), email)


def _org(org_id: int) -> Organization:
    return organization(portal_db.get_session(), org_id)


CASES = [
    (role, action, own)
    for role in [*ROLE_NAMES, None]
    for action in ORG_ACTIONS
    for own in (True, False)
]


@pytest.mark.parametrize("actor_kind", ["viewer", "user"])
@pytest.mark.parametrize(("role", "action", "own"), CASES)
def test_policy_organization_matrix(
    ctx: None, role: str | None, action: str, own: bool, actor_kind: str
) -> None:
    user = _user(USER_FOR_ROLE[role])
    org = _org(demo.BEATLES_ID if own else demo.MONSTERS_ID)
    actor = Viewer(portal_db.get_session(), user.id) if actor_kind == "viewer" else user
    expected = own and action in EXPECTED[role]
    assert get_oso().is_allowed(actor, action, org) is expected


# What each organization role gives on a repository of a demo organization, whose
# base repository role is READER and which grants no repository role directly.
REPOSITORY_ACTIONS: dict[str | None, set[str]] = {
    "OWNER": {"READ", "PUSH", "LIST_ROLES", "UPDATE", "DELETE", "MANAGE_ROLES"},
    "MEMBER": {"READ", "LIST_ROLES"},  # the base role; the organization's people
    "BILLING": set(),
    None: set(),
}


@pytest.mark.parametrize("role", [*ROLE_NAMES, None])
@pytest.mark.parametrize("own", [True, False])
def test_policy_repository_roles_follow_the_organization_role(
    ctx: None, role: str | None, own: bool
) -> None:
    user = _user(USER_FOR_ROLE[role])
    org_id = demo.BEATLES_ID if own else demo.MONSTERS_ID
    repo = portal_db.get_session().scalar(
        select(Repository).where(Repository.organization_id == org_id)
    )
    viewer = Viewer(portal_db.get_session(), user.id)
    expected = REPOSITORY_ACTIONS[role] if own else set()
    assert get_oso().authorized_actions(viewer, repo) == expected


@pytest.mark.parametrize("email", [demo.ADMIN, demo.JOHN, demo.GEORGE])
def test_policy_everyone_may_create_organizations_as_themselves_only(
    ctx: None, email: str
) -> None:
    # why: creating an organization is a right over one's own account (any role,
    # or none), never over someone else's
    me, other = _user(email), _user(demo.PAUL)
    viewer = Viewer(portal_db.get_session(), me.id)
    expected = {"READ", "CHANGE_PASSWORD", "CREATE_ORGANIZATION"}
    assert get_oso().authorized_actions(viewer, me) == expected
    assert get_oso().authorized_actions(viewer, other) == set()
    anonymous = Viewer(portal_db.get_session(), None)
    assert get_oso().authorized_actions(anonymous, me) == set()


def test_policy_anonymous_viewer_gets_nothing(ctx: None) -> None:
    viewer = Viewer(portal_db.get_session(), None)
    assert get_oso().authorized_actions(viewer, _org(demo.BEATLES_ID)) == set()


class _FixedRoleViewer(Viewer):
    """A viewer that holds one given role name everywhere."""

    def __init__(self, name: str) -> None:
        super().__init__(portal_db.get_session(), 0)
        self.name = name

    def role_in(self, organization: Organization) -> str | None:
        return self.name


@pytest.mark.parametrize("name", ROLE_NAMES)
def test_policy_grants_every_database_role_name(ctx: None, name: str) -> None:
    # why: a role the database accepts but the policy does not know would give
    # its holders a silent, empty page.
    actions = get_oso().authorized_actions(_FixedRoleViewer(name), _org(1))
    assert actions == EXPECTED[name]


@pytest.mark.parametrize("name", ["ADMIN", "owner", "OWNER ", "", "READ"])
def test_policy_grants_nothing_to_unknown_role_names(ctx: None, name: str) -> None:
    assert get_oso().authorized_actions(_FixedRoleViewer(name), _org(1)) == set()


def test_policy_lists_equal_per_row_decisions(app: Flask, ctx: None) -> None:
    # why: a rule that data filtering cannot translate compiles to WHERE 0 = 1 and
    # silently returns nothing, so every list is checked against decisions.
    session = portal_db.get_session()
    rng = random.Random(7)
    users = session.scalars(select(User)).all()
    for _ in range(30):
        org = make_organization(session, repositories=3)
        for user in rng.sample(users, 4):
            make_role(session, user, org, rng.choice(ROLE_NAMES))
    session.commit()
    oso: PortalOso = get_oso()
    orgs = session.scalars(select(Organization)).all()
    repos = session.scalars(select(Repository)).all()
    for user in users:
        viewer = Viewer(session, user.id)
        # One role lookup for all the rows, as a page's decide_rows does; each
        # row is still decided on its own.
        viewer.know_roles_in(orgs)
        viewer.know_repository_roles(repos)
        allowed = {o: oso.authorized_actions(viewer, o) for o in orgs}
        for action in ORG_ACTIONS:
            listed = set(
                session.scalars(oso.authorized_query(user, action, Organization))
            )
            decided = {o for o in orgs if action in allowed[o]}
            assert listed == decided, (user.email, action)
        listed_repos = set(
            session.scalars(oso.authorized_query(user, "READ", Repository))
        )
        decided_repos = {r for r in repos if oso.is_allowed(viewer, "READ", r)}
        assert listed_repos == decided_repos, user.email
    assert any(
        session.scalars(oso.authorized_query(u, "READ", Repository)).all()
        for u in users
    )


def test_policy_lists_equal_per_row_decisions_on_scale_data(
    app: Flask, ctx: None
) -> None:
    # why: the scale data's shapes (a user holding every role name in hundreds of
    # organizations, a crowded organization, a big one) at a size per-row
    # decisions can check; lists are compared as lists, so a join that repeats
    # a row (a missing DISTINCT) fails too
    session = portal_db.get_session()
    scale.seed_scale(
        session,
        scale.Scale(
            organizations=300,
            repositories=3_000,
            big_org_repositories=600,
            members=120,
            user_roles=240,
            grants=210,
            user_grants=100,
            big_org_grants=100,
        ),
    )
    session.commit()
    oso: PortalOso = get_oso()
    oso.clear_caches()
    orgs = session.scalars(select(Organization)).all()
    repos = session.scalars(select(Repository)).all()
    emails = [
        scale.USER_WITH_ROLES,
        scale.USER_WITH_GRANTS,
        scale.MEMBER_EMAIL.format(7),
        *demo.USERS,
    ]
    for email in emails:
        user = user_by_email(session, email)
        viewer = Viewer(session, user.id)
        # One role lookup for all the rows, as a page's decide_rows does; each
        # row is still decided on its own.
        viewer.know_roles_in(orgs)
        viewer.know_repository_roles(repos)
        allowed = {o: oso.authorized_actions(viewer, o) for o in orgs}
        for action in ORG_ACTIONS:
            listed = session.scalars(oso.authorized_query(user, action, Organization))
            listed_ids = sorted(o.id for o in listed)
            decided = [o.id for o in orgs if action in allowed[o]]
            assert listed_ids == sorted(decided), (email, action)
        listed_repos = session.scalars(oso.authorized_query(user, "READ", Repository))
        decided_repos = [r.id for r in repos if oso.is_allowed(viewer, "READ", r)]
        assert sorted(r.id for r in listed_repos) == sorted(decided_repos), email
    heavy = user_by_email(session, scale.USER_WITH_ROLES)
    assert len(session.scalars(oso.authorized_query(heavy, "READ", Repository)).all())
