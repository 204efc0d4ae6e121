"""Organization administration: the only code that creates, renames, re-addresses
and deletes organizations.

Like portal.domain.roles, every operation takes the acting user (``actor``; None
for the command line), locks the organization row first (PostgreSQL; SQLite's
writer transaction already holds the database's write lock), checks its rules
(a refusal raises an OrgAdminError subclass, whose ``status`` is the HTTP answer,
and changes nothing), records an audit entry in the same transaction, and leaves
the commit to its caller (``db.transaction`` in a request,
``db.writer_session()`` outside one). Who may call them is the policy's business.

Names follow portal.domain.names (whose refusals, OrgAdminError among them, are
re-exported here): trimmed, 1 to NAME_MAX characters without control
characters, and unique as organization_name_key compares them (case-folded): the
database's unique name_key is the guarantee, the check before it the message. Two
creations of one name at the same moment: one wins, the other gets NameTaken from
the constraint (never an IntegrityError out of here).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.domain.models import (
    REPOSITORY_ROLE_NAMES,
    AuditEntry,
    Organization,
    OrganizationRole,
    Repository,
    User,
    organization_name_key,
)
from portal.domain.names import (
    ChangedMeanwhile,
    NameTaken,
    Refused,
    SameName,
    WrongConfirmation,
    checked_name,
    has_control_characters,
    same_typed_name,
)
from portal.domain.names import (
    InvalidName as InvalidName,  # re-exported: callers catch it here
)
from portal.domain.names import shown as shown_name
from portal.domain.roles import OWNER, lock_organization
from portal.infra import clock

#: The base of every refusal here (portal.domain.names': names are shared).
OrgAdminError = Refused

#: The billing address column's length.
BILLING_ADDRESS_MAX = 500


class InvalidAddress(OrgAdminError):
    """The billing address is too long or holds control characters."""


class UnknownBaseRole(OrgAdminError):
    """A base repository role that is not a repository role (nor none)."""

    def __init__(self, name: str) -> None:
        shown = shown_name(name)
        choices = ", ".join(REPOSITORY_ROLE_NAMES)
        super().__init__(
            f"{shown!r} is not a repository role. Choose one of {choices}, or none"
            " (no role)."
        )


class SameBaseRole(OrgAdminError):
    """A change of the base repository role to the one the organization has."""

    def __init__(self) -> None:
        super().__init__(
            "Every member already gets that role: choose another one to change it."
        )


class OrganizationGone(OrgAdminError):
    """The organization does not exist (any more)."""

    status = 404

    def __init__(self) -> None:
        super().__init__("That organization does not exist: it may have been deleted.")


class Unsaid(Enum):
    """The type of UNSAID."""

    UNSAID = "unsaid"


#: What a form that does not say what it was drawn with passes as ``expected``
#: where None is a value (the base repository role "none").
UNSAID = Unsaid.UNSAID


@dataclass(frozen=True)
class Contents:
    """What goes with an organization when it is deleted."""

    repositories: int
    members: int
    audit_entries: int


@dataclass(frozen=True)
class Deleted:
    """An organization that was deleted: what it was, who deleted it, what went."""

    organization_id: int
    name: str
    actor_id: int | None  # None: the command line
    actor_email: str | None
    contents: Contents
    at: datetime


# --- checks ---------------------------------------------------------------------


def checked_address(address: str) -> str:
    """address trimmed, its line ends made "\\n", if it can be a billing address
    (empty is: no address); else InvalidAddress."""
    address = "\n".join(line.strip() for line in address.strip().splitlines())
    if len(address) > BILLING_ADDRESS_MAX:
        raise InvalidAddress(
            f"Use at most {BILLING_ADDRESS_MAX} characters for the billing address"
            f" ({len(address):,} given)."
        )
    if has_control_characters(address.replace("\n", "")):
        raise InvalidAddress("Remove the control characters from the address.")
    return address


def same_address(shown: str, address: str) -> bool:
    """Whether shown (as a form sent it back: line ends may have become \r\n) is
    the billing address address."""
    try:
        return checked_address(shown) == address
    except InvalidAddress:
        return False


def name_holder(session: Session, name: str) -> int | None:
    """The id of the organization whose name compares equal to name, if any."""
    return session.scalar(
        select(Organization.id).where(
            Organization.name_key == organization_name_key(name)
        )
    )


def contents(session: Session, organization_id: int) -> Contents:
    """How many repositories, members and audit entries the organization has."""

    def count(model: type[Repository | OrganizationRole | AuditEntry]) -> int:
        statement = select(func.count()).where(model.organization_id == organization_id)
        return session.scalar(statement) or 0

    return Contents(count(Repository), count(OrganizationRole), count(AuditEntry))


# --- changes: lock, check, change, record; the caller commits --------------------


def create_organization(
    session: Session, name: str, owner: User, *, actor: User | None
) -> Organization:
    """A new organization named name, owner its OWNER (audited as "create")."""
    name = checked_name(name)
    if name_holder(session, name) is not None:
        raise NameTaken(name)
    organization = Organization(name=name, billing_address="")
    session.add(organization)
    session.add(OrganizationRole(organization=organization, user=owner, name=OWNER))
    _flush_name(session, name)
    _record(
        session,
        organization,
        "create",
        actor,
        user=owner,
        new_role=OWNER,
        new_value=name,
    )
    return organization


def rename_organization(
    session: Session,
    organization: Organization,
    name: str,
    *,
    actor: User | None,
    expected: str | None = None,
) -> str:
    """Rename organization to name; its old name. expected: the name the form
    was drawn with (None: not said), refused (ChangedMeanwhile) if the name is
    another one by the time the lock is held."""
    _lock(session, organization)
    if expected is not None and organization.name != expected:
        raise ChangedMeanwhile(
            f"The organization was renamed to {organization.name} while you were"
            " looking. Check the name and send it again."
        )
    name = checked_name(name)
    old = organization.name
    if name == old:
        raise SameName(name)
    holder = name_holder(session, name)
    if holder is not None and holder != organization.id:
        raise NameTaken(name)
    organization.name = name
    _flush_name(session, name)
    _record(session, organization, "rename", actor, old_value=old, new_value=name)
    return old


def change_billing_address(
    session: Session,
    organization: Organization,
    address: str,
    *,
    actor: User | None,
    expected: str | None = None,
) -> str:
    """Set organization's billing address; the address as stored. expected: the
    address the form was drawn with (None: not said), refused (ChangedMeanwhile)
    if the address is another one by the time the lock is held."""
    _lock(session, organization)
    if expected is not None and not same_address(
        expected, organization.billing_address
    ):
        raise ChangedMeanwhile(
            "The billing address was changed while you were looking: it is shown"
            " as it is now. Check it and send yours again."
        )
    address = checked_address(address)
    organization.billing_address = address
    _record(session, organization, "billing_address", actor)
    return address


def change_base_repository_role(
    session: Session,
    organization: Organization,
    role: str | None,
    *,
    actor: User | None,
    expected: str | Unsaid | None = UNSAID,
) -> str | None:
    """Make role (a repository role code, None: none) what every member of
    organization gets on each of its repositories (audited as
    "base_repository_role", old and new codes); the role it replaces. expected:
    the base role the form was drawn with (UNSAID: not said), refused
    (ChangedMeanwhile) if it is another one by the time the lock is held."""
    if role is not None and role not in REPOSITORY_ROLE_NAMES:
        raise UnknownBaseRole(role)
    _lock(session, organization)
    old = organization.base_repository_role
    if expected is not UNSAID and old != expected:
        raise ChangedMeanwhile(
            "The base repository role was changed while you were looking: it is"
            " shown as it is now. Check it and send yours again."
        )
    if role == old:
        raise SameBaseRole()
    organization.base_repository_role = role
    _record(
        session,
        organization,
        "base_repository_role",
        actor,
        old_value=old,
        new_value=role,
    )
    return old


def delete_organization(
    session: Session, organization_id: int, typed_name: str, *, actor: User | None
) -> Deleted:
    """Delete the organization with everything in it (repositories, roles, audit
    entries: the foreign keys' ON DELETE CASCADE), if typed_name is its name."""
    organization = lock_organization(session, organization_id)
    if organization is None:
        raise OrganizationGone()
    if not same_typed_name(typed_name, organization.name):
        raise WrongConfirmation()
    gone = Deleted(
        organization_id=organization.id,
        name=organization.name,
        actor_id=actor.id if actor is not None else None,
        actor_email=actor.email if actor is not None else None,
        contents=contents(session, organization.id),
        at=clock.now(),
    )
    session.delete(organization)
    session.flush()
    return gone


def _lock(session: Session, organization: Organization) -> None:
    """Lock organization's row (OrganizationGone if deleted meanwhile)."""
    if lock_organization(session, organization.id) is None:
        raise OrganizationGone()


def _flush_name(session: Session, name: str) -> None:
    """Flush, turning the unique name_key's refusal into NameTaken (a concurrent
    creation or rename took the name after the check)."""
    try:
        session.flush()
    except IntegrityError as error:
        raise NameTaken(name) from error


def _record(
    session: Session,
    organization: Organization,
    action: str,
    actor: User | None,
    *,
    user: User | None = None,
    new_role: str | None = None,
    old_value: str | None = None,
    new_value: str | None = None,
) -> None:
    """Add the change's audit entry to the transaction."""
    session.add(
        AuditEntry(
            organization_id=organization.id,
            at=clock.now(),
            action=action,
            actor_id=actor.id if actor is not None else None,
            actor_email=actor.email if actor is not None else None,
            user_id=user.id if user is not None else None,
            user_email=user.email if user is not None else None,
            new_role=new_role,
            old_value=old_value,
            new_value=new_value,
        )
    )
    session.flush()
