"""Demo data from Oso's "Add Roles with SQLAlchemy" guide. Idempotent.

Loaded by ``flask --app portal seed`` (or ``python seed.py``). Tests import the
constants below instead of repeating names and addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

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
