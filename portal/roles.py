"""Role management: the only code that changes who holds which role.

The guide's API (add_user_role, reassign_user_role, delete_user_role) plus
assign_role, which adds or reassigns as the role form does. Each operation:

- locks the organization row first (PostgreSQL; on SQLite the writer transaction
  from portal.db already holds the database's write lock), so two concurrent
  changes to one organization run one after the other;
- checks its invariants and raises a RoleError subclass, changing nothing, when one
  would break: one role per user per organization, role names from ROLE_NAMES only,
  and every organization keeps at least one OWNER;
- commits on success, so each operation is one transaction.

Who may call these is the policy's business (the views authorize first); this
module keeps the data consistent whoever calls it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.models import (
    ROLE_NAMES,
    Organization,
    OrganizationRole,
    User,
    normalize_email,
)

OWNER = "OWNER"


class RoleError(Exception):
    """A role change that was refused; the message is meant for the user."""


class UnknownRoleName(RoleError):
    def __init__(self, name: str) -> None:
        shown = name if len(name) <= 40 else name[:40] + "…"
        super().__init__(
            f"{shown!r} is not a role. Choose one of {', '.join(ROLE_NAMES)}."
        )


class NoSuchUser(RoleError):
    def __init__(self, email: str) -> None:
        shown = email if len(email) <= 80 else email[:80] + "…"
        super().__init__(f"There is no user with the email {shown!r}.")


class AlreadyHasRole(RoleError):
    def __init__(self, user: User, role: OrganizationRole) -> None:
        super().__init__(f"{user.email} is already {role.name} here.")


class NotAMember(RoleError):
    def __init__(self, user: User) -> None:
        super().__init__(f"{user.email} has no role in this organization.")


class LastOwner(RoleError):
    def __init__(self, user: User) -> None:
        super().__init__(
            f"{user.email} is the last owner. Make someone else an owner first:"
            " every organization needs at least one."
        )


@dataclass(frozen=True)
class RoleChange:
    """What an operation did, for messages and (later) the audit trail."""

    email: str
    organization: str
    old: str | None
    new: str | None

    def __str__(self) -> str:
        if self.old is None:
            return f"{self.email} is now {self.new}."
        if self.new is None:
            return f"{self.email} no longer has a role (was {self.old})."
        return f"{self.email} is now {self.new} (was {self.old})."


def lock_organization(session: Session, organization_id: int) -> Organization | None:
    """Load the organization and lock its row until the transaction ends.

    Every membership change locks here first, so concurrent changes to one
    organization are serialized (SQLite ignores FOR UPDATE; see portal.db).
    """
    return session.scalar(
        select(Organization)
        .where(Organization.id == organization_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def find_user(session: Session, email: str) -> User:
    """The user with this email (case-insensitive), or NoSuchUser."""
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None:
        raise NoSuchUser(email)
    return user


def user_role(
    session: Session, organization: Organization, user: User
) -> OrganizationRole | None:
    """The user's role row in organization, if any."""
    return session.scalar(
        select(OrganizationRole).where(
            OrganizationRole.organization_id == organization.id,
            OrganizationRole.user_id == user.id,
        )
    )


def add_user_role(
    session: Session, organization: Organization, user: User, name: str
) -> RoleChange:
    """Give user the role name in organization; they must not have one yet."""
    _check_name(name)
    _lock(session, organization)
    existing = user_role(session, organization, user)
    if existing is not None:
        raise AlreadyHasRole(user, existing)
    return _add(session, organization, user, name)


def reassign_user_role(
    session: Session, organization: Organization, user: User, name: str
) -> RoleChange:
    """Change user's role in organization to name."""
    _check_name(name)
    _lock(session, organization)
    role = user_role(session, organization, user)
    if role is None:
        raise NotAMember(user)
    return _reassign(session, organization, user, role, name)


def delete_user_role(
    session: Session, organization: Organization, user: User
) -> RoleChange:
    """Take user's role in organization away."""
    _lock(session, organization)
    role = user_role(session, organization, user)
    if role is None:
        raise NotAMember(user)
    if role.name == OWNER:
        _keep_an_owner(session, organization, user)
    change = RoleChange(user.email, organization.name, role.name, None)
    session.delete(role)
    return _commit(session, change)


def assign_role(
    session: Session, organization: Organization, user: User, name: str
) -> RoleChange:
    """Give user the role name: add it, or reassign the one they have (the guide's
    endpoint). Find the user by email with find_user()."""
    _check_name(name)
    _lock(session, organization)
    role = user_role(session, organization, user)
    if role is None:
        return _add(session, organization, user, name)
    return _reassign(session, organization, user, role, name)


def count_owners(session: Session, organization: Organization) -> int:
    """How many owners organization has."""
    return session.scalar(
        select(func.count()).where(
            OrganizationRole.organization_id == organization.id,
            OrganizationRole.name == OWNER,
        )
    )


def _check_name(name: str) -> None:
    if name not in ROLE_NAMES:
        raise UnknownRoleName(name)


def _lock(session: Session, organization: Organization) -> None:
    lock_organization(session, organization.id)


def _add(
    session: Session, organization: Organization, user: User, name: str
) -> RoleChange:
    """Add the role row (lock held, name checked, user has no role here)."""
    session.add(OrganizationRole(organization=organization, user=user, name=name))
    return _commit(session, RoleChange(user.email, organization.name, None, name))


def _reassign(
    session: Session,
    organization: Organization,
    user: User,
    role: OrganizationRole,
    name: str,
) -> RoleChange:
    """Change role to name (lock held, name checked), keeping an owner."""
    if role.name == name:
        raise AlreadyHasRole(user, role)
    if role.name == OWNER:
        _keep_an_owner(session, organization, user)
    change = RoleChange(user.email, organization.name, role.name, name)
    role.name = name
    return _commit(session, change)


def _keep_an_owner(session: Session, organization: Organization, user: User) -> None:
    """Refuse to take OWNER from user if they are the organization's only owner."""
    if count_owners(session, organization) <= 1:
        raise LastOwner(user)


def _commit(session: Session, change: RoleChange) -> RoleChange:
    session.commit()
    return change
