"""Demo data from Oso's "Add Roles with SQLAlchemy" guide. Idempotent.

Loaded by ``flask --app portal seed`` (or ``python seed.py``). Tests import the
constants below instead of repeating names and addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import org_admin, password_reset, repository_roles, roles
from portal.domain.models import (
    Organization,
    OrganizationRole,
    Repository,
    RepositoryRole,
    User,
)
from portal.infra.passwords import HashCost, hash_password

PASSWORD = "portal-demo-password"

JOHN = "john@beatles.com"
PAUL = "paul@beatles.com"
RINGO = "ringo@beatles.com"
GEORGE = "george@beatles.com"
MIKE = "mike@monsters.com"
SULLY = "sully@monsters.com"
RANDALL = "randall@monsters.com"
ADMIN = "admin@admin.com"
USERS = (JOHN, PAUL, RINGO, GEORGE, MIKE, SULLY, RANDALL, ADMIN)

BEATLES_ID = 1
MONSTERS_ID = 2
ORGANIZATIONS = {
    BEATLES_ID: ("The Beatles", "64 Penny Ln Liverpool, UK", ["Abbey Road"]),
    MONSTERS_ID: ("Monsters Inc.", "123 Scarers Rd Monstropolis, USA", ["Paperwork"]),
}

ROLES = {
    BEATLES_ID: {JOHN: "OWNER", PAUL: "MEMBER", RINGO: "MEMBER", GEORGE: "BILLING"},
    MONSTERS_ID: {MIKE: "OWNER", SULLY: "MEMBER", RANDALL: "MEMBER"},
}

# The repository role each organization gives its members on every repository:
# The Beatles keep the default (every member reads every repository); Monsters
# Inc. give none, so its members see only what is granted to them.
BASE_REPOSITORY_ROLES: dict[int, str | None] = {BEATLES_ID: "READER", MONSTERS_ID: None}

# Repository roles granted directly: organization -> repository -> email -> role.
REPOSITORY_ROLES = {
    BEATLES_ID: {"Abbey Road": {RINGO: "WRITER"}},
    MONSTERS_ID: {"Paperwork": {SULLY: "WRITER"}},
}


@dataclass(frozen=True)
class DemoAccount:
    """A demo login as the login page lists it: the email and, per organization,
    the role it holds now (none for an account with no role)."""

    email: str
    roles: tuple[tuple[str, str], ...]  # (organization name, role code)


def accounts(session: Session) -> list[DemoAccount]:
    """The demo accounts in USERS order with the roles they hold now, read in one
    query: a role changed since the seed is listed as it is, an account deleted
    since is left out."""
    rows = session.execute(
        select(User.email, Organization.name, OrganizationRole.name)
        .outerjoin(OrganizationRole, OrganizationRole.user_id == User.id)
        .outerjoin(Organization, Organization.id == OrganizationRole.organization_id)
        .where(User.email.in_(USERS))
        .order_by(Organization.id)
    )
    held: dict[str, list[tuple[str, str]]] = {}
    for email, organization, role in rows:
        roles = held.setdefault(email, [])
        if organization is not None and role is not None:
            roles.append((organization, role))
    return [
        DemoAccount(email=email, roles=tuple(held[email]))
        for email in USERS
        if email in held
    ]


def seed_database(session: Session, cost: HashCost | None = None) -> int:
    """Add whatever part of the demo data is missing; return how many rows.

    Passwords are hashed at cost (default: the configured cost, see
    portal.infra.passwords).
    """
    created = 0
    users = {}
    for email in USERS:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, password_hash=hash_password(PASSWORD, cost))
            session.add(user)
            created += 1
        users[email] = user
    for org_id, (name, billing, repo_names) in ORGANIZATIONS.items():
        # Found by name and inserted without an explicit id: an explicit id would
        # leave PostgreSQL's id sequence behind, breaking the next insert. On a new
        # database the ids come out as BEATLES_ID and MONSTERS_ID.
        organization = session.scalar(
            select(Organization).where(Organization.name == name)
        )
        if organization is None:
            organization = Organization(name=name, billing_address=billing)
            session.add(organization)
            session.flush()
            # Set once the row exists: an INSERT of None would store the
            # column's default (READER) instead.
            organization.base_repository_role = BASE_REPOSITORY_ROLES[org_id]
            created += 1
        # Which demo names exist, by query: the collection may be far too large
        # to load (and is write-only).
        existing = set(
            session.scalars(
                select(Repository.name).where(
                    Repository.organization_id == organization.id,
                    Repository.name.in_(repo_names),
                )
            )
        )
        for repo_name in repo_names:
            if repo_name not in existing:
                organization.repositories.add(Repository(name=repo_name))
                created += 1
        session.flush()
        for email, role_name in ROLES[org_id].items():
            user = users[email]
            has_role = session.scalar(
                select(OrganizationRole).where(
                    OrganizationRole.organization_id == organization.id,
                    OrganizationRole.user_id == user.id,
                )
            )
            if has_role is None:
                session.add(
                    OrganizationRole(
                        organization=organization, user=user, name=role_name
                    )
                )
                created += 1
        session.flush()
        created += _grant_repository_roles(session, organization, users, org_id)
    session.flush()
    return created


def _grant_repository_roles(
    session: Session, organization: Organization, users: dict[str, User], org_id: int
) -> int:
    """Grant the demo's direct repository roles of organization that are missing
    (a repository or a role removed since the seed is left alone); how many."""
    created = 0
    for repo_name, grants in REPOSITORY_ROLES[org_id].items():
        repository = session.scalar(
            select(Repository).where(
                Repository.organization_id == organization.id,
                Repository.name == repo_name,
            )
        )
        for email, role_name in grants.items():
            user = users[email]
            member = session.scalar(
                select(OrganizationRole.id).where(
                    OrganizationRole.organization_id == organization.id,
                    OrganizationRole.user_id == user.id,
                )
            )
            if repository is None or member is None:
                continue
            granted = session.scalar(
                select(RepositoryRole.id).where(
                    RepositoryRole.repository_id == repository.id,
                    RepositoryRole.user_id == user.id,
                )
            )
            if granted is None:
                session.add(
                    RepositoryRole(
                        name=role_name,
                        user_id=user.id,
                        repository_id=repository.id,
                        organization_id=organization.id,
                    )
                )
                created += 1
    return created


# --- putting the demo back (issue 19: flask --app portal seed --reset-demo) -------


def reset_demo(session: Session, now: datetime, cost: HashCost | None = None) -> int:
    """Put the demo data back as seeded; return how many things were put back.

    Every demo account gets the demo password again (its sessions end, its
    reset links die, its login failures are forgotten); in each demo
    organization (found by name) the billing address, the base repository
    role, the roles (only the demo's, none expiring) and the direct repository
    grants are the demo's again; whatever is missing is added as seed_database
    adds it. Role and setting changes go through the domain functions with the
    command line as the actor, so they are audited and keep every
    organization's owner. Other accounts, organizations and repositories are
    left alone. The caller commits.
    """
    changed = 0
    for email in USERS:
        user = session.scalar(select(User).where(User.email == email))
        if user is not None:
            session.refresh(user, with_for_update=True)
            password_reset.set_password(
                session, user, hash_password(PASSWORD, cost), now
            )
            changed += 1
    session.flush()
    changed += seed_database(session, cost)
    users = {
        user.email: user
        for user in session.scalars(select(User).where(User.email.in_(USERS)))
    }
    for org_id, (name, billing, _repos) in ORGANIZATIONS.items():
        organization = session.scalar(
            select(Organization).where(Organization.name == name)
        )
        if organization is None:  # seed_database just added it
            continue
        changed += _reset_settings(session, organization, org_id, billing)
        changed += _reset_roles(session, organization, users, ROLES[org_id])
        changed += _reset_grants(session, organization, org_id)
    session.flush()
    return changed


def _reset_settings(
    session: Session, organization: Organization, org_id: int, billing: str
) -> int:
    """The demo's billing address and base repository role; how many changed."""
    changed = 0
    if organization.billing_address != billing:
        org_admin.change_billing_address(session, organization, billing, actor=None)
        changed += 1
    base = BASE_REPOSITORY_ROLES[org_id]
    if organization.base_repository_role != base:
        org_admin.change_base_repository_role(session, organization, base, actor=None)
        changed += 1
    return changed


def _reset_roles(
    session: Session,
    organization: Organization,
    users: dict[str, User],
    wanted: dict[str, str],
) -> int:
    """Exactly the demo's roles in organization; how many changed. Owners
    first, removals last: the organization always keeps an owner."""
    changed = 0
    by_rank = sorted(wanted.items(), key=lambda item: item[1] != "OWNER")
    for email, name in by_rank:
        user = users[email]
        role = roles.user_role(session, organization, user)
        # The demo's roles never expire (expires=None), audited like any change.
        if role is None:
            roles.add_user_role(session, organization, user, name, actor=None)
            changed += 1
        elif role.name != name or role.expires_at is not None:
            roles.reassign_user_role(
                session, organization, user, name, actor=None, expires=None
            )
            changed += 1
    wanted_ids = {users[email].id for email in wanted}
    others = session.scalars(
        select(User)
        .join(OrganizationRole, OrganizationRole.user_id == User.id)
        .where(
            OrganizationRole.organization_id == organization.id,
            OrganizationRole.user_id.not_in(wanted_ids),
        )
    ).all()
    for user in others:
        roles.delete_user_role(session, organization, user, actor=None)
        changed += 1
    session.flush()
    return changed


def _reset_grants(session: Session, organization: Organization, org_id: int) -> int:
    """Exactly the demo's direct grants on the demo's repositories of
    organization (seed_database adds the missing ones); how many changed."""
    changed = 0
    for repo_name in ORGANIZATIONS[org_id][2]:
        repository = session.scalar(
            select(Repository).where(
                Repository.organization_id == organization.id,
                Repository.name == repo_name,
            )
        )
        if repository is None:
            continue
        wanted = REPOSITORY_ROLES[org_id].get(repo_name, {})
        for grant in session.scalars(
            select(RepositoryRole).where(RepositoryRole.repository_id == repository.id)
        ).all():
            email = session.scalar(select(User.email).where(User.id == grant.user_id))
            name = wanted.get(email or "")
            if name is None:
                repository_roles.remove(
                    session, repository, grant.user_id, grant.name, actor=None
                )
                changed += 1
                continue
            if grant.name != name or grant.expires_at is not None:
                repository_roles.change(
                    session,
                    repository,
                    grant.user_id,
                    name,
                    grant.name,
                    actor=None,
                    expires=None,
                )
                changed += 1
    session.flush()
    return changed
