"""Cheap, unique test data: users, organizations with repositories, roles and
audit entries.

- ``make_*`` add ORM objects and flush (ids are set); the caller commits.
- ``bulk_*`` insert many rows with one INSERT executed for a list of parameter
  sets (SQLAlchemy's "insertmanyvalues": a few statements of up to 1,000 rows
  each, no ORM object per row) and return the new ids, ascending: thousands of
  rows in milliseconds. Names are format strings with ``{i}`` (the row's index in
  this call) and ``{n}`` (a number unique in this process).

Every user gets the same argon2id hash of ``demo.PASSWORD`` at the tests' cost
(``passwords.FAST``, see tests/settings.py), computed once per process, so factory
users log in with ``demo.PASSWORD`` like the demo users.

Imports only SQLAlchemy and portal: bench/run.py uses the bulk path too.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from portal.domain import demo
from portal.domain.models import (
    AuditEntry,
    Organization,
    OrganizationRole,
    Repository,
    RepositoryRole,
    User,
)
from portal.infra.passwords import FAST, hash_password

_numbers = itertools.count(1)

# The models the bulk_* functions insert into (each has an integer id).
BulkModel = (
    type[User]
    | type[Organization]
    | type[Repository]
    | type[OrganizationRole]
    | type[AuditEntry]
    | type[RepositoryRole]
)


def unique_number() -> int:
    """A number no other call in this process returns."""
    return next(_numbers)


@cache
def password_hash() -> str:
    """The argon2id hash of demo.PASSWORD that every factory user gets."""
    return hash_password(demo.PASSWORD, FAST)


def make_user(session: Session, email: str | None = None) -> User:
    """A user who logs in with demo.PASSWORD (a unique email unless given)."""
    email = email if email is not None else f"user-{unique_number()}@example.com"
    user = User(email=email, password_hash=password_hash())
    session.add(user)
    session.flush()
    return user


def make_repository(
    session: Session, organization: Organization, name: str | None = None
) -> Repository:
    """A repository of organization."""
    name = name if name is not None else f"Repository {unique_number()}"
    repository = Repository(name=name, organization=organization)
    session.add(repository)
    session.flush()
    return repository


def make_organization(
    session: Session,
    name: str | None = None,
    *,
    repositories: int = 0,
    billing_address: str | None = None,
) -> Organization:
    """An organization with that many repositories (unique names unless given)."""
    number = unique_number()
    organization = Organization(
        name=name if name is not None else f"Organization {number}",
        billing_address=(
            billing_address if billing_address is not None else f"{number} Test St"
        ),
    )
    session.add(organization)
    session.flush()
    for _ in range(repositories):
        make_repository(session, organization)
    return organization


def make_role(
    session: Session, user: User, organization: Organization, name: str = "MEMBER"
) -> OrganizationRole:
    """user's role in organization."""
    role = OrganizationRole(user=user, organization=organization, name=name)
    session.add(role)
    session.flush()
    return role


def _names(pattern: str, count: int) -> list[str]:
    return [pattern.format(i=i, n=unique_number()) for i in range(count)]


def bulk_users(
    session: Session, count: int, *, email: str = "user-{n}@example.com"
) -> list[int]:
    """count users who log in with demo.PASSWORD; their ids."""
    rows = [
        {"email": address, "password_hash": password_hash()}
        for address in _names(email, count)
    ]
    return _insert(session, User, rows)


def bulk_organizations(
    session: Session, count: int, *, name: str = "Organization {n}"
) -> list[int]:
    """count organizations; their ids."""
    rows = [
        {"name": org_name, "billing_address": f"{org_name}, Test St"}
        for org_name in _names(name, count)
    ]
    return _insert(session, Organization, rows)


def bulk_repositories(
    session: Session,
    organization_id: int,
    count: int,
    *,
    name: str = "Repository {n}",
) -> list[int]:
    """count repositories of organization_id; their ids."""
    rows = [
        {"name": repo_name, "organization_id": organization_id}
        for repo_name in _names(name, count)
    ]
    return _insert(session, Repository, rows)


def bulk_roles(session: Session, roles: Iterable[tuple[int, int, str]]) -> list[int]:
    """A role for each (user id, organization id, role name); their ids."""
    rows = [
        {"user_id": user_id, "organization_id": org_id, "name": name}
        for user_id, org_id, name in roles
    ]
    return _insert(session, OrganizationRole, rows)


def bulk_repository_roles(
    session: Session, grants: Iterable[tuple[int, int, int, str]]
) -> list[int]:
    """A repository role granted directly for each (user id, repository id,
    organization id, role name); their ids. The user must hold a role in the
    organization and the repository be one of its own (foreign keys)."""
    rows = [
        {
            "user_id": user_id,
            "repository_id": repo_id,
            "organization_id": org_id,
            "name": name,
        }
        for user_id, repo_id, org_id, name in grants
    ]
    return _insert(session, RepositoryRole, rows)


def bulk_audit_entries(
    session: Session,
    organization_id: int,
    count: int,
    *,
    user_email: str = "user-{i:03}@example.com",
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC),
) -> list[int]:
    """count entries "changed <user_email> from MEMBER to BILLING", made by the
    command line a minute apart from start, oldest first; their ids."""
    rows = [
        {
            "organization_id": organization_id,
            "at": start + timedelta(minutes=i),
            "action": "change",
            "user_email": email,
            "old_role": "MEMBER",
            "new_role": "BILLING",
        }
        for i, email in enumerate(_names(user_email, count))
    ]
    return _insert(session, AuditEntry, rows)


def _insert(
    session: Session, model: BulkModel, rows: Sequence[Mapping[str, object]]
) -> list[int]:
    """Insert rows into model's table in one executemany; the new ids, ascending.

    Not in row order: asking SQLAlchemy for that (sort_by_parameter_order) makes
    it insert row by row on SQLite.
    """
    if not rows:
        return []
    return sorted(session.scalars(insert(model).returning(model.id), rows))


# --- Time-limited roles (issue 19) -------------------------------------------


class MovingClock:
    """A clock for app.config["CLOCK"] that a test moves (advance)."""

    def __init__(self, start: datetime = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)):
        """A clock that reads start until moved."""
        self.now = start

    def __call__(self) -> datetime:
        """The clock's time."""
        return self.now

    def advance(self, **delta: float) -> None:
        """Move the clock forward by timedelta(**delta)."""
        self.now += timedelta(**delta)


def expire_some(
    session: Session,
    model: type[OrganizationRole] | type[RepositoryRole],
    ids: Iterable[int],
    now: datetime,
    chance: Callable[[], float],
) -> None:
    """Give some of the rows ids of model an expiry a few hours before or after
    now (about half of them; chance() draws in [0, 1)): for random data in which
    roles have expired, expire later, or never."""
    for row_id in ids:
        draw = chance()
        if draw < 0.5:
            hours = int(draw * 24) - 6  # -6 .. +5 hours from now
            session.execute(
                update(model)
                .where(model.id == row_id)
                .values(expires_at=now + timedelta(hours=hours, minutes=30))
            )
