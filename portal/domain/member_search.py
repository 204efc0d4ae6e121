"""Find people in an organization: the roles page's search, in SQL.

Flask-Admin's list pipeline with its search: filter (email contains a term, the
role is one name) -> count -> sort (email, then id) -> page, the last two by
portal.domain.paging. The counts per role come from one GROUP BY, whatever the search.

No Flask here: the view reads and validates the search (MemberSearchForm).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, contains_eager

from portal.domain.models import ROLE_NAMES, OrganizationRole, User


def members_matching(
    organization_id: int, email_contains: str = "", role: str = ""
) -> Select[OrganizationRole]:
    """The organization's roles (with their users) whose email contains
    email_contains and whose name is role, ordered by email; "" matches any."""
    statement = (
        select(OrganizationRole)
        .join(OrganizationRole.user)
        .options(contains_eager(OrganizationRole.user))
        .where(OrganizationRole.organization_id == organization_id)
    )
    if email_contains:
        # autoescape: "%" and "_" in the term mean themselves. Lower-cased here
        # as emails are stored (normalize_email): SQLite's lower() knows ASCII only.
        term = email_contains.lower()
        statement = statement.where(User.email.icontains(term, autoescape=True))
    if role:
        statement = statement.where(OrganizationRole.name == role)
    return statement.order_by(User.email, User.id)


@dataclass(frozen=True)
class RoleCounts:
    """How many members hold each role, every role name included (0 if none)."""

    by_role: Mapping[str, int]

    @property
    def total(self) -> int:
        """How many members the organization has."""
        return sum(self.by_role.values())


def role_counts(session: Session, organization_id: int) -> RoleCounts:
    """The organization's members per role, in one GROUP BY query."""
    rows = session.execute(
        select(OrganizationRole.name, func.count())
        .where(OrganizationRole.organization_id == organization_id)
        .group_by(OrganizationRole.name)
    )
    found = dict(rows.all())
    return RoleCounts({name: found.get(name, 0) for name in ROLE_NAMES})
