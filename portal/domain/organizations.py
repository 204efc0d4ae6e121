"""Find organizations the way a person names them: by id or by exact name.

For the command line, where people type "1" or "The Beatles". No Flask here:
the web finds organizations by the id in the URL (portal.web.loaders).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.models import Organization, OrganizationRole

# The largest id an INTEGER primary key holds on every database we support: a
# larger number names no organization (PostgreSQL would refuse to compare it).
_MAX_ID = 2**31 - 1


class OrganizationNotFound(LookupError):
    """The reference names no organization, or more than one; the message says
    which, meant for the person who typed it."""


class NoSuchOrganization(OrganizationNotFound):
    """No organization has this id or this name."""

    def __init__(self, ref: str) -> None:
        shown = ref if len(ref) <= 80 else ref[:80] + "…"
        if _is_id(ref):
            super().__init__(f"There is no organization with the id {shown}.")
        else:
            super().__init__(f"There is no organization named {shown!r}.")


class AmbiguousOrganization(OrganizationNotFound):
    """Several organizations have this name (names are not unique)."""

    def __init__(self, name: str, ids: list[int]) -> None:
        super().__init__(
            f"{len(ids)} organizations are named {name!r}"
            f" (ids {', '.join(map(str, ids))}): give the id instead."
        )


def find_organization(session: Session, ref: str) -> Organization:
    """The organization whose id is ref (ASCII digits only) or, otherwise, whose
    name is exactly ref; NoSuchOrganization or AmbiguousOrganization if not one."""
    if _is_id(ref):
        org_id = int(ref)
        found = session.get(Organization, org_id) if org_id <= _MAX_ID else None
        if found is None:
            raise NoSuchOrganization(ref)
        return found
    named = list(
        session.scalars(
            select(Organization)
            .where(Organization.name == ref)
            .order_by(Organization.id)
        )
    )
    if not named:
        raise NoSuchOrganization(ref)
    if len(named) > 1:
        raise AmbiguousOrganization(ref, [org.id for org in named])
    return named[0]


@dataclass(frozen=True)
class OrganizationSummary:
    """One organization and how many people hold a role in it."""

    id: int
    name: str
    members: int


def organization_summaries(session: Session) -> list[OrganizationSummary]:
    """Every organization by id, with its member count, in one GROUP BY query."""
    rows = session.execute(
        select(Organization.id, Organization.name, func.count(OrganizationRole.id))
        .outerjoin(OrganizationRole)
        .group_by(Organization.id, Organization.name)
        .order_by(Organization.id)
    )
    return [OrganizationSummary(id, name, members) for id, name, members in rows]


def _is_id(ref: str) -> bool:
    """Whether ref is written as an id: ASCII digits only ("١" is not one)."""
    return ref.isascii() and ref.isdigit()
