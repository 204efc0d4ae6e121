"""Scale data for measuring the portal at size: ``flask --app portal seed --scale``.

10,000 organizations and 100,000 repositories, with the shapes the "Scale and
speed" issue asks about: one organization with 5,000 repositories next to one with
a single repository, one organization with 1,000 members, and one user with 1,000
roles. Issue 18 adds 10,000 repository roles granted directly: 1,000 of them to
one user (a MEMBER of the big organization, whose base repository role is none,
and of some others), 1,000 on the big organization's repositories, and one in
each of many other organizations, some of which give their members no base
repository role or WRITER. Everything has a well-known name (``Scale Org 00001``,
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
    DEFAULT_BASE_REPOSITORY_ROLE,
    REPOSITORY_ROLE_NAMES,
    ROLE_NAMES,
    Organization,
    OrganizationRole,
    Repository,
    RepositoryRole,
    User,
)
from portal.infra.passwords import hash_password

#: Logs in with demo.PASSWORD; OWNER of the big and the crowded organization, and
#: one of OWNER, MEMBER, BILLING (in turn) in the next ones, up to its role count.
USER_WITH_ROLES = "scale-user-with-1000-roles@example.com"
#: The crowded organization's members (format with the member's number, from 1).
#: Some are MEMBERs of the big organization or of others too, each with a
#: repository role granted there.
MEMBER_EMAIL = "scale-member-{:04d}@example.com"
#: Logs in with demo.PASSWORD; MEMBER of the big organization (whose base
#: repository role is none) and of some others, with 1,000 repository roles
#: granted directly: half on the big organization's repositories, half on all
#: the repositories of the next organizations (3, 4, ...).
USER_WITH_GRANTS = "scale-user-with-1000-grants@example.com"

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
    grants: int = 10_000  # repository roles granted directly, in all
    user_grants: int = 1_000  # of them to USER_WITH_GRANTS
    big_org_grants: int = 1_000  # of them on the big organization's repositories

    def __post_init__(self) -> None:
        if self.organizations < 3 or self.user_roles < 2:
            raise ValueError("scale data needs 3 organizations and 2 roles at least")
        if self.user_roles > self.organizations:
            raise ValueError("the user cannot have more roles than organizations")
        if self.repositories < self.big_org_repositories + self.organizations - 1:
            raise ValueError("every organization gets one repository at least")
        # Raises ValueError when the grants do not fit the organizations.
        repository_grants(self)


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


def base_repository_role(number: int) -> str | None:
    """The base repository role of scale organization number (from 1).

    None (no role) for the big organization, so that its members see only what
    is granted to them, and for every tenth organization; WRITER for the one
    after each of those; the default (READER) for the rest.
    """
    if number == BIG_ORG or (number > SMALL_ORG and number % 10 == 0):
        return None
    if number > SMALL_ORG and number % 10 == 1:
        return "WRITER"
    return DEFAULT_BASE_REPOSITORY_ROLE


@dataclass(frozen=True)
class Grant:
    """One repository role granted directly: who (an email), on which
    repository (organization number, repository number, both from 1), which."""

    email: str
    org: int
    repo: int
    role: str


def repository_grants(scale: Scale) -> list[Grant]:
    """The scale data's repository roles granted directly.

    USER_WITH_GRANTS gets half of user_grants on the big organization's
    repositories (spread evenly over its names, so every page of the list shows
    some) and the rest on every repository of organizations 3, 4, ... in turn.
    Crowded-organization members get the rest of big_org_grants on the big
    organization, one each; then one grant on the first repository of each
    organization from user_roles + 1 on, to a member in turn, up to grants.
    Raises ValueError when the sizes leave no room for them (smaller scales
    pass grants, user_grants and big_org_grants that fit; 0 for none).
    """
    counts = repository_counts(scale)
    in_big = scale.user_grants // 2
    others = scale.big_org_grants - in_big
    rest = scale.grants - scale.user_grants - others
    if in_big > scale.big_org_repositories or not 0 <= others <= scale.members:
        raise ValueError("the big organization's grants do not fit its repositories")
    roles = REPOSITORY_ROLE_NAMES
    step = scale.big_org_repositories // max(in_big, 1)
    grants = [
        Grant(USER_WITH_GRANTS, BIG_ORG, 1 + i * step, roles[i % len(roles)])
        for i in range(in_big)
    ]
    spread = [
        (number, repo)
        for number in range(3, scale.organizations + 1)
        for repo in range(1, counts[number] + 1)
    ][: scale.user_grants - in_big]
    if len(spread) < scale.user_grants - in_big:
        raise ValueError("too few repositories for the user's grants")
    grants += [
        Grant(USER_WITH_GRANTS, number, repo, roles[repo % len(roles)])
        for number, repo in spread
    ]
    # The big organization's grants on repositories USER_WITH_GRANTS has none on.
    if others and 2 + (others - 1) * step > scale.big_org_repositories:
        raise ValueError("the big organization's grants do not fit its repositories")
    grants += [
        Grant(MEMBER_EMAIL.format(i), BIG_ORG, 2 + (i - 1) * step, roles[i % 3])
        for i in range(1, others + 1)
    ]
    numbers = range(scale.user_roles + 1, scale.organizations + 1)
    if not 0 <= rest <= len(numbers) or (rest and not scale.members):
        raise ValueError("too few organizations for the grants")
    grants += [
        Grant(MEMBER_EMAIL.format(1 + i % scale.members), number, 1, roles[i % 3])
        for i, number in enumerate(numbers[:rest])
    ]
    return grants


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
        {
            "name": name,
            "billing_address": f"{number} Scale St, Testville",
            "base_repository_role": base_repository_role(number),
        }
        for number, name in enumerate(names, start=1)
    ]
    created = _insert_missing(session, Organization, org_rows)
    org_ids = _ids_by_name(session, Organization, names)
    by_number = {number: org_ids[name] for number, name in enumerate(names, start=1)}

    created += _insert_missing_repositories(session, scale, by_number)

    emails = [USER_WITH_ROLES, USER_WITH_GRANTS] + [
        MEMBER_EMAIL.format(i) for i in range(1, scale.members + 1)
    ]
    user_ids = _ids_by_name(session, User, emails)
    if len(user_ids) < len(emails):
        # One hash for every scale user: 1,002 argon2id hashes would take a minute.
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
    grants = repository_grants(scale)
    # A repository role needs a role in its organization (a foreign key): every
    # grantee without one there becomes a MEMBER.
    for grant in grants:
        wanted.setdefault((user_ids[grant.email], by_number[grant.org]), "MEMBER")
    created += _insert_missing_roles(session, wanted, list(user_ids.values()))
    created += _insert_missing_grants(session, grants, user_ids, by_number)
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
        # One executemany. The table's, not the ORM's: an ORM bulk INSERT leaves
        # out a None that has a default (base_repository_role: none -> READER).
        session.execute(insert(model.__table__), missing)  # type: ignore[arg-type]
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


def _insert_missing_grants(
    session: Session,
    grants: Sequence[Grant],
    user_ids: Mapping[str, int],
    org_ids: Mapping[int, int],
) -> int:
    """Add the grants that are missing (one repository role per user and
    repository: one that exists with another name is left as it is). A grant
    whose repository or organization role was deleted by hand is skipped."""
    wanted_orgs = sorted({org_ids[grant.org] for grant in grants})
    repo_ids: dict[tuple[int, str], int] = {}
    existing: set[tuple[int, int]] = set()
    members: set[tuple[int, int]] = set()
    for chunk in _chunks(wanted_orgs):
        repos = select(Repository.organization_id, Repository.name, Repository.id)
        for org_id, name, repo_id in session.execute(
            repos.where(Repository.organization_id.in_(chunk))
        ):
            repo_ids[(org_id, name)] = repo_id
        held = select(RepositoryRole.user_id, RepositoryRole.repository_id)
        existing.update(
            (user_id, repo_id)
            for user_id, repo_id in session.execute(
                held.where(RepositoryRole.organization_id.in_(chunk))
            )
        )
        roles = select(OrganizationRole.user_id, OrganizationRole.organization_id)
        members.update(
            (user_id, org_id)
            for user_id, org_id in session.execute(
                roles.where(OrganizationRole.organization_id.in_(chunk))
            )
        )
    missing = []
    for grant in grants:
        user_id, org_id = user_ids[grant.email], org_ids[grant.org]
        found = repo_ids.get((org_id, repo_name(grant.repo)))
        if found is None or (user_id, org_id) not in members:
            continue
        if (user_id, found) in existing:
            continue
        existing.add((user_id, found))
        missing.append(
            {
                "user_id": user_id,
                "repository_id": found,
                "organization_id": org_id,
                "name": grant.role,
            }
        )
    if missing:
        session.execute(insert(RepositoryRole), missing)
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
