"""Scale data for measuring the portal at size: ``flask --app portal seed --scale``.

10,000 organizations and 100,000 repositories, with the shapes the "Scale and
speed" issue asks about: one organization with 5,000 repositories next to one with
a single repository, one organization with 1,000 members, and one user with 1,000
roles. Everything has a well-known name (``Scale Org 00001``,
``scale-member-0001@example.com``...), so a second run finds what exists and adds
nothing, and the demo data is left alone.

Rows go in with one executemany INSERT per table (no ORM object per row), and every
scale user gets the same argon2id hash of ``demo.PASSWORD``: hashing 1,001
passwords at ASVS parameters would take about a minute on its own.

A domain module: no Flask, so the CLI, bench/ and tests call it alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from portal.domain import demo
from portal.domain.models import (
    ROLE_NAMES,
    Organization,
    OrganizationRole,
    Repository,
    User,
)
from portal.infra.passwords import hash_password

#: Logs in with demo.PASSWORD; OWNER of the big and the crowded organization, and
#: one of OWNER, MEMBER, BILLING (in turn) in the next ones, up to its role count.
USER_WITH_ROLES = "scale-user-with-1000-roles@example.com"
#: The crowded organization's members (format with the member's number, from 1).
MEMBER_EMAIL = "scale-member-{:04d}@example.com"

_T = TypeVar("_T")

BIG_ORG = 1  # the organization with the most repositories
SMALL_ORG = 2  # one repository, for comparison; also the one with the members
CROWDED_ORG = SMALL_ORG


@dataclass(frozen=True)
class Scale:
    """How much scale data: the defaults are the issue's numbers.

    Tests use smaller ones; the shapes (big, small and crowded organization, the
    user with many roles) stay the same.
    """

    organizations: int = 10_000
    repositories: int = 100_000  # in all organizations together
    big_org_repositories: int = 5_000
    members: int = 1_000  # MEMBERs of the crowded organization, besides its owner
    user_roles: int = 1_000  # roles of USER_WITH_ROLES

    def __post_init__(self) -> None:
        if self.organizations < 3 or self.user_roles < 2:
            raise ValueError("scale data needs 3 organizations and 2 roles at least")
        if self.user_roles > self.organizations:
            raise ValueError("the user cannot have more roles than organizations")
        if self.repositories < self.big_org_repositories + self.organizations - 1:
            raise ValueError("every organization gets one repository at least")


def org_name(number: int) -> str:
    """The name of scale organization number (from 1)."""
    return f"Scale Org {number:05d}"


def repo_name(number: int) -> str:
    """The name of an organization's repository number (from 1); sorts by number."""
    return f"scale-repo-{number:05d}"


def repository_counts(scale: Scale) -> dict[int, int]:
    """How many repositories each scale organization (by number) gets.

    The big one gets big_org_repositories, the small one a single repository, and
    the others share the rest as evenly as whole numbers allow.
    """
    counts = {BIG_ORG: scale.big_org_repositories, SMALL_ORG: 1}
    others = range(3, scale.organizations + 1)
    share, extra = divmod(scale.repositories - sum(counts.values()), len(others))
    for index, number in enumerate(others):
        counts[number] = share + (1 if index < extra else 0)
    return counts


def user_roles(scale: Scale) -> dict[int, str]:
    """USER_WITH_ROLES's role in each organization (by number) where it has one."""
    roles = {BIG_ORG: "OWNER", CROWDED_ORG: "OWNER"}
    for number in range(3, scale.user_roles + 1):
        roles[number] = ROLE_NAMES[number % len(ROLE_NAMES)]
    return roles


def seed_scale(session: Session, scale: Scale | None = None) -> int:
    """Add whatever part of the scale data is missing; return how many rows.

    Flushes but does not commit: the caller's transaction decides.
    """
    scale = scale or Scale()
    names = [org_name(number) for number in range(1, scale.organizations + 1)]
    org_rows = [
        {"name": name, "billing_address": f"{number} Scale St, Testville"}
        for number, name in enumerate(names, start=1)
    ]
    created = _insert_missing(session, Organization, org_rows)
    org_ids = _ids_by_name(session, Organization, names)
    by_number = {number: org_ids[name] for number, name in enumerate(names, start=1)}

    created += _insert_missing_repositories(session, scale, by_number)

    emails = [USER_WITH_ROLES] + [
        MEMBER_EMAIL.format(i) for i in range(1, scale.members + 1)
    ]
    user_ids = _ids_by_name(session, User, emails)
    if len(user_ids) < len(emails):
        # One hash for every scale user: 1,001 argon2id hashes would take a minute.
        password_hash = hash_password(demo.PASSWORD)
        created += _insert_missing(
            session,
            User,
            [{"email": email, "password_hash": password_hash} for email in emails],
        )
        user_ids = _ids_by_name(session, User, emails)

    wanted = {
        (user_ids[USER_WITH_ROLES], by_number[number]): role
        for number, role in user_roles(scale).items()
    }
    for i in range(1, scale.members + 1):
        wanted[(user_ids[MEMBER_EMAIL.format(i)], by_number[CROWDED_ORG])] = "MEMBER"
    created += _insert_missing_roles(session, wanted, list(user_ids.values()))
    session.flush()
    return created


# Well under SQLite's limit of 32,766 bound parameters per statement.
_CHUNK = 5_000


def _chunks(values: Sequence[_T]) -> Iterator[Sequence[_T]]:
    """values in slices of _CHUNK, for IN lists."""
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _ids_by_name(
    session: Session, model: type[Organization] | type[User], names: Sequence[str]
) -> dict[str, int]:
    """name (an organization's name, a user's email) -> id, for those that exist.

    Should a name exist twice (made by hand), the lowest id stands for it.
    """
    column = Organization.name if model is Organization else User.email
    found: dict[str, int] = {}
    for chunk in _chunks(names):
        statement = select(column, model.id).where(column.in_(chunk))
        for name, row_id in session.execute(statement.order_by(model.id.desc())):
            found[name] = row_id
    return found


def _insert_missing(
    session: Session,
    model: type[Organization] | type[User],
    rows: Sequence[Mapping[str, object]],
) -> int:
    """Insert the rows (organizations or users) whose name is not taken yet."""
    key = "name" if model is Organization else "email"
    existing = _ids_by_name(session, model, [str(row[key]) for row in rows])
    missing = [row for row in rows if row[key] not in existing]
    if missing:
        session.execute(insert(model), missing)  # one executemany
    return len(missing)


def _insert_missing_repositories(
    session: Session, scale: Scale, org_ids: Mapping[int, int]
) -> int:
    """Give each scale organization (number -> id) the repositories it lacks."""
    existing: set[tuple[int, str]] = set()
    for chunk in _chunks(list(org_ids.values())):
        statement = select(Repository.organization_id, Repository.name).where(
            Repository.organization_id.in_(chunk)
        )
        existing.update((org_id, name) for org_id, name in session.execute(statement))
    missing = [
        {"organization_id": org_ids[number], "name": repo_name(i)}
        for number, count in repository_counts(scale).items()
        for i in range(1, count + 1)
        if (org_ids[number], repo_name(i)) not in existing
    ]
    if missing:
        session.execute(insert(Repository), missing)
    return len(missing)


def _insert_missing_roles(
    session: Session, wanted: Mapping[tuple[int, int], str], user_ids: Sequence[int]
) -> int:
    """Add the wanted roles ((user id, organization id) -> name) that are missing.

    A role that exists with another name (changed by hand) is left as it is.
    """
    existing: set[tuple[int, int]] = set()
    for chunk in _chunks(user_ids):
        statement = select(
            OrganizationRole.user_id, OrganizationRole.organization_id
        ).where(OrganizationRole.user_id.in_(chunk))
        existing.update((user, org) for user, org in session.execute(statement))
    missing = [
        {"user_id": user_id, "organization_id": org_id, "name": name}
        for (user_id, org_id), name in wanted.items()
        if (user_id, org_id) not in existing
    ]
    if missing:
        session.execute(insert(OrganizationRole), missing)
    return len(missing)
