"""Find organizations the way a person names them: by id or by exact name.

For the command line, where people type "1" or "The Beatles". No Flask here:
the web finds organizations by the id in the URL (portal.web.loaders).

A reference written as an id (ASCII digits, no leading zeros) may also be the
exact name of an organization ("2", "2024"): it is looked up both ways, and
refused as ambiguous when the two find different organizations, so that a name
never silently selects another tenant. The caller may say which it means
(``by="id"`` or ``by="name"``). "01" is never an id: only a name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain.models import Organization, OrganizationRole

# How a reference is read: as an id, as a name, or as whichever it can be.
By = Literal["id", "name", "either"]

# The largest id an INTEGER primary key holds on every database we support: a
# larger number names no organization (PostgreSQL would refuse to compare it).
_MAX_ID = 2**31 - 1


class OrganizationNotFound(LookupError):
    """The reference names no organization, or more than one; the message says
    which, meant for the person who typed it."""


class NotAnId(ValueError):
    """The reference was to be read as an id and is not written as one."""

    def __init__(self, ref: str) -> None:
        self.shown = _shown(ref)
        super().__init__(f"{self.shown!r} is not an id: digits without leading zeros.")


class NoSuchOrganization(OrganizationNotFound):
    """No organization has this id or this name."""

    def __init__(self, ref: str, by: By = "either") -> None:
        shown = _shown(ref)
        if by == "id":
            message = f"There is no organization with the id {shown}."
        elif by == "either" and is_id(ref):
            message = (
                f"There is no organization with the id {shown}, nor one named"
                f" {shown!r}."
            )
        else:
            message = f"There is no organization named {shown!r}."
        super().__init__(message)


class AmbiguousOrganization(OrganizationNotFound):
    """Several organizations have this name (names are not unique)."""

    def __init__(self, name: str, ids: Sequence[int]) -> None:
        super().__init__(
            f"{len(ids)} organizations are named {_shown(name)!r}"
            f" (ids {', '.join(map(str, ids))}): give the id instead."
        )


class IdOrName(OrganizationNotFound):
    """The reference is the id of one organization and the exact name of others:
    the caller must say which it means."""

    def __init__(self, ref: str, by_id: Organization, named: Sequence[int]) -> None:
        self.shown = _shown(ref)
        self.by_id = by_id.id
        self.named = list(named)
        if len(named) == 1:
            holders = f"the organization with id {named[0]}"
        else:
            holders = f"{len(named)} organizations (ids {', '.join(map(str, named))})"
        super().__init__(
            f"{self.shown!r} is both the id of {_shown(by_id.name)!r}"
            f" and the name of {holders}."
        )


def find_organization(session: Session, ref: str, by: By = "either") -> Organization:
    """The one organization ref names, read as by says (an id, a name, or
    either); NotAnId, NoSuchOrganization, AmbiguousOrganization or IdOrName if
    not exactly one."""
    if by == "id" and not is_id(ref):
        raise NotAnId(ref)
    by_id = _by_id(session, ref) if by != "name" else None
    named = _named(session, ref) if by != "id" else []
    if by_id is not None:
        others = [org.id for org in named if org.id != by_id.id]
        if others:
            raise IdOrName(ref, by_id, others)
        return by_id
    if not named:
        raise NoSuchOrganization(ref, by)
    if len(named) > 1:
        raise AmbiguousOrganization(ref, [org.id for org in named])
    return named[0]


def _by_id(session: Session, ref: str) -> Organization | None:
    """The organization whose id ref is, if ref is written as an id."""
    if not is_id(ref) or int(ref) > _MAX_ID:
        return None
    return session.get(Organization, int(ref))


def _named(session: Session, name: str) -> list[Organization]:
    """Every organization named exactly name, by id."""
    statement = (
        select(Organization).where(Organization.name == name).order_by(Organization.id)
    )
    return list(session.scalars(statement))


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


def is_id(ref: str) -> bool:
    """Whether ref is written as an id: ASCII digits ("١" is not one) without
    leading zeros ("01" is a name, so that one id has one spelling)."""
    return ref.isascii() and ref.isdigit() and (ref == "0" or ref[0] != "0")


def _shown(ref: str) -> str:
    """ref as a message quotes it: cut after 80 characters."""
    return ref if len(ref) <= 80 else ref[:80] + "…"
