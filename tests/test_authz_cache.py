"""The cross-request caches of PortalOso give exactly what uncached Oso gives.

The differential test generates random organizations, repositories, users and
roles (several seeds), and in every round (a request of its own) compares the
cached lists (every action, organizations and repositories) and decisions
(organizations, repositories and roles) with Oso asked directly
(``Oso.authorized_query`` / ``Oso.authorized_actions``, which bypass PortalOso's
caches); between rounds roles are added, changed and removed, and the clock
moves on two hours (about half the roles expire some hours before or after the
start: some expire between two requests, with no row changing).
"""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from oso import Oso
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from portal import create_app
from portal.authz import PortalOso, Viewer, get_oso, recording
from portal.authz.policy import build_oso
from portal.authz.reads import FILTER_ACTOR_FIELDS, decision_inputs
from portal.authz.recording import UncheckedOsoVersion, read_key, recording_reads
from portal.domain import demo
from portal.domain.models import (
    ROLE_NAMES,
    Base,
    Organization,
    OrganizationRole,
    Repository,
    User,
)
from portal.infra import db as portal_db
from tests.conftest import AuthActions
from tests.factories import (
    MovingClock,
    bulk_organizations,
    bulk_repositories,
    bulk_roles,
    bulk_users,
    expire_some,
)
from tests.test_policy import ORG_ACTIONS

POLICY = Path(__file__).resolve().parents[1] / "portal" / "policy.polar"
SEEDS = [11, 22, 33]
ROUNDS = 3
# Listed and decided. Repository lists are compared with decisions, through
# random grants and base roles too, by tests/test_repository_differential.py;
# planning one (every way to a repository role) is most of this test's cost, so
# here repositories are decided only.
CLASSES: tuple[type[Base], ...] = (Organization,)
# Decided one by one. OrganizationRole is the cache key behind every member page:
# its decisions read the role's organization and both user ids (the HOLDER rule).
# It is not in CLASSES: no page lists roles through the policy, and Oso's data
# filtering refuses it ("occurs more than once as the target of a relation").
DECIDED: tuple[type[Base], ...] = (*CLASSES, Repository, OrganizationRole)


def _generate(session: Session, rng: random.Random, now: datetime) -> None:
    """10 organizations with 0-4 repositories, 6 users, random roles, about half
    of which expire a few hours before or after now."""
    orgs = bulk_organizations(session, 10)
    for org_id in orgs:
        bulk_repositories(session, org_id, rng.randint(0, 4))
    users = bulk_users(session, 6)
    roles = bulk_roles(
        session,
        [
            (user_id, org_id, rng.choice(ROLE_NAMES))
            for user_id in users
            for org_id in rng.sample(orgs, rng.randint(0, 5))
        ],
    )
    expire_some(session, OrganizationRole, roles, now, rng.random)
    session.commit()


def _change_roles(session: Session, rng: random.Random) -> None:
    """Add, change and remove a few roles (committed, as a request would)."""
    users = session.scalars(select(User.id)).all()
    orgs = session.scalars(select(Organization.id)).all()
    for _ in range(6):
        user_id, org_id = rng.choice(users), rng.choice(orgs)
        role = session.scalar(
            select(OrganizationRole).where(
                OrganizationRole.user_id == user_id,
                OrganizationRole.organization_id == org_id,
            )
        )
        if role is None:
            bulk_roles(session, [(user_id, org_id, rng.choice(ROLE_NAMES))])
        elif rng.random() < 0.5:
            session.execute(
                delete(OrganizationRole).where(OrganizationRole.id == role.id)
            )
        else:
            others = [name for name in ROLE_NAMES if name != role.name]
            session.execute(
                update(OrganizationRole)
                .where(OrganizationRole.id == role.id)
                .values(name=rng.choice(others))
            )
    session.commit()


def _random_users(session: Session) -> list[User]:
    """The users _generate made, and one demo user: the demo's others hold roles
    only in the demo organizations, which every other test covers; on the random
    ones they would all be asked the same "no role" question again."""
    return list(
        session.scalars(
            select(User).where(User.email.not_in(demo.USERS[1:])).order_by(User.id)
        )
    )


def _expired_roles(app: Flask) -> set[int]:
    """The ids of the roles expired by now (the app's clock)."""
    with app.test_request_context():
        session = portal_db.get_session()
        return set(
            session.scalars(select(OrganizationRole.id).where(~OrganizationRole.active))
        )


def _ids(session: Session, statement: Any) -> set[int]:
    return {row.id for row in session.scalars(statement)}


def _compare_one_request(app: Flask, decisions: bool) -> int:
    """Cached vs uncached for every user, action and class (lists; decisions too
    if asked); the comparisons made."""
    compared = 0
    with app.test_request_context():
        oso: PortalOso = get_oso()
        session = portal_db.get_session()
        users = _random_users(session)
        resources = {cls: session.scalars(select(cls)).all() for cls in DECIDED}
        for user in users:
            cached_viewer = Viewer(session, user.id)
            plain_viewer = Viewer(session, user.id)
            for cls in CLASSES:
                for action in ORG_ACTIONS:
                    cached = _ids(session, oso.authorized_query(user, action, cls))
                    plain = _ids(session, Oso.authorized_query(oso, user, action, cls))
                    assert cached == plain, (user.email, action, cls.__name__)
                    compared += 1
            if not decisions:
                continue
            for cls in DECIDED:
                for resource in resources[cls]:
                    cached_actions = oso.authorized_actions(cached_viewer, resource)
                    # Oso's own decision, no cache; recording its reads makes it
                    # follow a relation to a loaded row through the session's
                    # identity map instead of a SELECT (same answer, a third of
                    # the time: a repository is reached many times per decision).
                    with recording_reads():
                        plain_actions = Oso.authorized_actions(
                            oso, plain_viewer, resource
                        )
                    assert cached_actions == plain_actions, (user.email, resource)
                    compared += 1
    return compared


@pytest.mark.parametrize(
    "decisions",
    [
        # The cached and the uncached decision read the same rows through the
        # same Viewer queries, so what the database is cannot set them apart:
        # decisions (Polar's time, ~12 ms each uncached) are compared on the
        # first backend only, lists (SQL of the backend's own) on each.
        pytest.param(True, marks=pytest.mark.one_backend, id="decisions"),
        pytest.param(False, id="lists"),
    ],
)
@pytest.mark.parametrize("seed", SEEDS)
def test_authz_cache_equals_uncached_oso_on_random_data(
    app: Flask, db: Session, seed: int, decisions: bool
) -> None:
    rng = random.Random(seed)
    clock = MovingClock()
    app.config["CLOCK"] = clock
    _generate(db, rng, clock.now)
    oso = get_oso(app)
    expiring = _expired_roles(app)
    for round_number in range(ROUNDS):
        hits = oso.cache_hits
        # 7 users x lists and rows (lists: 7 users x 13 actions)
        assert _compare_one_request(app, decisions) > (300 if decisions else 90)
        if round_number:
            # why: a differential test of a cache that is never hit proves nothing
            assert oso.cache_hits > hits
        _change_roles(db, rng)
        # why: roles expire between two requests with no row changing: a cache
        # that kept an answer past a role's expiry differs from Oso here
        clock.advance(hours=2)
    # why: the data had roles that expired while the test ran
    assert _expired_roles(app) - expiring, "no role expired between rounds"


def _compare_rows_together(app: Flask) -> int:
    """Every user's answers about all role rows at once (one query, then its
    cached answers) against uncached Oso row by row; the rows compared."""
    compared = 0
    with app.test_request_context():
        oso: PortalOso = get_oso()
        session = portal_db.get_session()
        rows = session.scalars(select(OrganizationRole)).all()
        for user in _random_users(session):
            plain = [
                Oso.authorized_actions(oso, Viewer(session, user.id), role)
                for role in rows
            ]
            queries = oso.queries
            together = oso.authorized_actions_each(Viewer(session, user.id), rows)
            assert oso.queries - queries <= 1, "one question for all the rows"
            assert together == plain, user.email
            compared += len(rows)
    return compared


@pytest.mark.one_backend  # decisions only: see the test above
@pytest.mark.parametrize("seed", SEEDS)
def test_authz_cache_rows_decided_together_equal_uncached_oso(
    app: Flask, db: Session, seed: int
) -> None:
    # why: the roles page asks about all its rows in one Polar query and keeps
    # each row's answer under that row's key; both must equal Oso row by row
    rng = random.Random(seed)
    clock = MovingClock()
    app.config["CLOCK"] = clock
    _generate(db, rng, clock.now)
    oso = get_oso(app)
    oso.clear_caches()
    for round_number in range(ROUNDS):
        hits = oso.cache_hits
        assert _compare_rows_together(app) > 50
        if round_number:
            assert oso.cache_hits > hits  # answers kept from the batch are used
        _change_roles(db, rng)
        clock.advance(hours=2)  # some roles expire between requests


def test_authz_cache_role_change_shows_on_the_very_next_request(
    app: Flask, client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    ringo = db.scalars(select(User.id).where(User.email == demo.RINGO)).one()
    [org_id] = bulk_organizations(db, 1)
    bulk_repositories(db, org_id, 1, name="secret repo")
    bulk_roles(db, [(ringo, org_id, "MEMBER")])
    db.commit()
    auth.login(demo.RINGO)
    assert client.get(f"/orgs/{org_id}/repos").status_code == 200
    assert f"/orgs/{org_id}" in client.get("/orgs").text  # both caches filled
    db.execute(
        update(OrganizationRole)
        .where(OrganizationRole.organization_id == org_id)
        .values(name="BILLING")
    )
    db.commit()
    assert client.get(f"/orgs/{org_id}/repos").status_code == 403
    assert client.get(f"/orgs/{org_id}/billing").status_code == 200
    db.execute(
        delete(OrganizationRole).where(OrganizationRole.organization_id == org_id)
    )
    db.commit()
    assert client.get(f"/orgs/{org_id}").status_code == 404
    assert f"/orgs/{org_id}" not in client.get("/orgs").text


def test_authz_cache_keys_cover_what_the_policy_reads(app: Flask) -> None:
    # why: a key that misses something the policy reads would hand one user's
    # answer to another. PortalOso checks the reads on every miss; this pins that
    # today's policy is within the keys, so the caches are used at all.
    with app.test_request_context():
        oso: PortalOso = get_oso()
        session = portal_db.get_session()
        for user in session.scalars(select(User)):
            viewer = Viewer(session, user.id)
            classes: tuple[type[Base], ...] = (*DECIDED, User)
            for cls in classes:
                for resource in session.scalars(select(cls)):
                    inputs = decision_inputs(viewer, resource)
                    assert inputs is not None
                    with recording_reads() as reads:
                        Oso.authorized_actions(oso, viewer, resource)
                    assert reads <= inputs.reads, (user.email, resource)
            for cls in CLASSES:
                with recording_reads() as reads:
                    oso.data_filter(user, "READ", cls)
                fields = FILTER_ACTOR_FIELDS[User]
                assert reads == {(read_key(user), name, ()) for name in fields}


def test_authz_cache_skips_a_policy_that_reads_more(
    app: Flask, db: Session, tmp_path: Path
) -> None:
    # why: if the policy starts reading something the key lacks (here the
    # organization's id in decisions, the user's email in lists), answers must
    # stay right: they are then not cached.
    text = POLICY.read_text()
    for old, new in [
        (
            "  name = viewer.role_in(organization);\n",
            "  name = viewer.role_in(organization) and organization.id != 2;\n",
        ),
        ("  role.name = name;\n", '  role.name = name and user.email != "x";\n'),
    ]:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "variant.polar"
    path.write_text(text)
    oso = build_oso(path)
    john = db.scalars(select(User.id).where(User.email == demo.JOHN)).one()
    bulk_roles(db, [(john, 2, "OWNER")])
    db.commit()
    with app.test_request_context():
        session = portal_db.get_session()
        viewer = Viewer(session, john)
        one, two = session.get(Organization, 1), session.get(Organization, 2)
        assert oso.authorized_actions(viewer, one) == set(ORG_ACTIONS)
        assert oso.authorized_actions(viewer, two) == set()
        user = session.get(User, john)
        assert _ids(session, oso.authorized_query(user, "READ", Organization)) == {
            1,
            2,
        }
    assert len(oso._decisions) == 0 and len(oso._filters) == 0


def test_authz_cache_cleared_when_the_policy_changes(app: Flask) -> None:
    with app.test_request_context():
        oso: PortalOso = get_oso()
        session = portal_db.get_session()
        oso.authorized_actions(Viewer(session, 1), session.get(Organization, 1))
        oso.authorized_query(session.get(User, 1), "READ", Organization)
        assert len(oso._decisions) == 1 and len(oso._filters) == 1
        oso.clear_rules()
        assert len(oso._decisions) == 0 and len(oso._filters) == 0
        # Oso loads only into an empty policy; stand-ins show loading clears too.
        oso._decisions.put("stand-in", frozenset())
        oso._filters.put("stand-in", object())
        oso.load_files([str(POLICY)])
        assert len(oso._decisions) == 0 and len(oso._filters) == 0


def test_authz_cache_size_zero_keeps_nothing(db_url: str) -> None:
    app = create_app(
        {
            "SECRET_KEY": "k",
            "DATABASE_URL": db_url,
            "HTTPS": False,
            "AUTHZ_CACHE_SIZE": 0,
        }
    )
    with app.test_request_context():
        oso: PortalOso = get_oso()
        session = portal_db.get_session()
        for _ in range(2):
            oso.authorized_actions(Viewer(session, 1), session.get(Organization, 1))
        assert oso.cache_hits == 0 and oso.queries == 2
    app.extensions["portal.engine"].dispose()


def test_authz_cache_refuses_an_oso_its_query_copy_was_not_taken_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # why: recording reads runs a copy of oso's Polar.query; on another oso
    # release the copy may be stale and the caches wrong without a failing test,
    # so building the app's Oso must stop and say what to re-check.
    monkeypatch.setattr(recording, "version", {"oso": "0.27.4"}.__getitem__)
    with pytest.raises(
        UncheckedOsoVersion,
        match=r"oso 0\.27\.4 is installed.*Polar\.query from oso 0\.27\.3",
    ):
        build_oso(POLICY)
