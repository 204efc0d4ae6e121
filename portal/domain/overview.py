"""An organization at a glance: what the overview shows besides the viewer's role.

Each piece is one SQL statement, whatever the organization's size (an index
serves each: 5,000 repositories are counted, not loaded; the owners and the
latest changes stop at their first rows). Which pieces to read is the caller's
question to the policy (the overview asks the permission that guards each
piece's own page); this module only reads them. No Flask here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.member_search import RoleCounts, role_counts
from portal.domain.models import AuditEntry, OrganizationRole, Repository, User
from portal.domain.roles import OWNER

# How many owners a page names before "and N more", and how many of the latest
# role changes the overview lists.
OWNERS_NAMED = 3
LATEST_CHANGES = 5


@dataclass(frozen=True)
class Owners:
    """The first owners by email, and how many there are in all."""

    emails: Sequence[str]
    total: int

    @property
    def more(self) -> int:
        """How many owners are not named."""
        return self.total - len(self.emails)


def owners(session: Session, organization_id: int, named: int = OWNERS_NAMED) -> Owners:
    """The organization's first named owners by email and their total, in one
    statement (the total is a window count over the same rows)."""
    rows = session.execute(
        select(User.email, func.count().over())
        .join(OrganizationRole, OrganizationRole.user_id == User.id)
        .where(
            OrganizationRole.organization_id == organization_id,
            OrganizationRole.name == OWNER,
        )
        .order_by(User.email, User.id)
        .limit(named)
    ).all()
    return Owners([email for email, _ in rows], int(rows[0][1]) if rows else 0)


def repository_count(session: Session, organization_id: int) -> int:
    """How many repositories the organization has (counted from the index)."""
    count = session.scalar(
        select(func.count())
        .select_from(Repository)
        .where(Repository.organization_id == organization_id)
    )
    return int(count or 0)


def latest_changes(
    session: Session, organization_id: int, limit: int = LATEST_CHANGES
) -> list[AuditEntry]:
    """The organization's latest audited changes (roles and settings), newest
    first."""
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.organization_id == organization_id)
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class Overview:
    """What the overview shows of an organization; None: a piece the viewer may
    not see (so it was not read)."""

    repositories: int | None = None
    people: RoleCounts | None = None
    owners: Owners | None = None
    changes: Sequence[AuditEntry] | None = None


def overview_of(
    session: Session,
    organization_id: int,
    *,
    repositories: bool,
    people: bool,
    changes: bool,
) -> Overview:
    """The pieces asked for (people: the counts per role and the owners named),
    one statement each."""
    return Overview(
        repositories=repository_count(session, organization_id)
        if repositories
        else None,
        people=role_counts(session, organization_id) if people else None,
        owners=owners(session, organization_id) if people else None,
        changes=latest_changes(session, organization_id) if changes else None,
    )
