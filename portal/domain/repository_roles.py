"""Repository roles granted directly: the only code that gives, changes and takes
them away, and the query of who has access to one repository.

Every change locks the repository's organization first (as portal.domain.roles
does), checks, changes, writes its audit entry in the same transaction and
leaves the commit to its caller. The database keeps a grant tied to its holder's
organization role (portal.domain.models.RepositoryRole): the check here answers
with a clear error, the foreign key stays the race's last line of defence.

Who may call these is the policy's business (the views authorize MANAGE_ROLES
on the repository first). Role codes stay data; the views word them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from portal.domain import expiry
from portal.domain.models import (
    REPOSITORY_ROLE_NAMES,
    AuditEntry,
    Organization,
    OrganizationRole,
    Repository,
    RepositoryRole,
    User,
    normalize_email,
)
from portal.domain.roles import (
    KEEP,
    BadExpiry,
    Expires,
    Keep,
    RoleError,
    RoleNames,
    check_within_actor,
    lock_organization,
    same_moment,
)
from portal.infra import clock


class UnknownRepositoryRole(RoleError):
    """The role name is not one of the repository roles."""

    status = 422

    def __init__(self, name: str) -> None:
        """The error for name, shortened to 40 characters."""
        self.name = name if len(name) <= 40 else name[:40] + "…"
        super().__init__()

    def say(self, names: RoleNames) -> str:
        """The codes to send instead (a page's form offers only the roles)."""
        return (
            f"{self.name!r} is not a repository role. Choose one of"
            f" {', '.join(REPOSITORY_ROLE_NAMES)}."
        )


class NotInOrganization(RoleError):
    """Nobody with this email holds a role in the organization (whether an
    account has it or not is not said: the repository's admins need not be
    the organization's owners)."""

    status = 422

    def __init__(self, email: str, organization_name: str) -> None:
        """The error for email (shortened to 80 characters)."""
        self.email = email if len(email) <= 80 else email[:80] + "…"
        self.organization_name = organization_name
        super().__init__()

    def say(self, names: RoleNames) -> str:
        """Who is missing, and what to do first."""
        return (
            f"Nobody with the email {self.email!r} has a role in"
            f" {self.organization_name}. A repository role can only be given to"
            f" someone who is in the organization: an Owner of"
            f" {self.organization_name} can add them first."
        )


class StaleGrant(RoleError):
    """The direct grant changed after the form was drawn."""

    def __init__(self, email: str, now: str | None) -> None:
        """The error naming the person and the role they hold now (None: none)."""
        self.email, self.now = email, now
        super().__init__()

    def say(self, names: RoleNames) -> str:
        """What changed, and what to do (the role by its code: a page words it
        with the repository roles' names, see portal.repository_access)."""
        return self.worded(self.now or "")

    def worded(self, role_name: str) -> str:
        """The refusal with the current role named role_name."""
        what = f"was given {role_name} directly" if self.now else "lost their role"
        return f"{self.email} {what} while you were looking. Check it and try again."


class NoGrant(RoleError):
    """The person holds no role granted on the repository directly."""

    status = 404

    def __init__(self, email: str, repository_name: str) -> None:
        """The error naming the person and the repository."""
        self.email, self.repository_name = email, repository_name
        super().__init__()

    def say(self, names: RoleNames) -> str:
        """Who has nothing to change or remove."""
        return (
            f"{self.email} has no role granted on {self.repository_name} directly:"
            " it may have been removed meanwhile."
        )


@dataclass(frozen=True)
class GrantChange:
    """What one operation did to a direct grant (None: no grant before/after)."""

    organization_id: int
    repository_id: int
    repository_name: str
    user_id: int
    user_email: str
    org_role: str  # the person's organization role (unchanged)
    actor_id: int | None
    old: str | None
    new: str | None
    at: datetime
    # The grant's expiry before and after (None: never), when it changed.
    old_expires: datetime | None = None
    new_expires: datetime | None = None
    expiry_changed: bool = False

    @property
    def action(self) -> str:
        """The audit trail's name for it ("" for a change that changed nothing;
        repository_role_expiry when only the grant's expiry changed)."""
        if self.old == self.new:
            return "repository_role_expiry" if self.expiry_changed else ""
        if self.old is None:
            return "add_repository_role"
        if self.new is None:
            return "remove_repository_role"
        return "change_repository_role"


@dataclass(frozen=True)
class AccessRow:
    """One person with access: their organization role and direct grant."""

    user_id: int
    email: str
    org_role: str
    direct: str | None


def people_with_access(
    repository: Repository, giving_org_roles: tuple[str, ...], email_contains: str = ""
) -> Select[*tuple[Any, ...]]:
    """The people with a role on repository, ordered by email: every holder of
    an organization role that brings one (giving_org_roles, from the policy's
    answers for the organization's base role) and everyone granted one directly.
    One query: the organization's role rows left-joined with this repository's
    grants."""
    statement = (
        select(
            User.id,
            User.email,
            OrganizationRole.name,
            RepositoryRole.name,
            # Time-limited roles: the page marks expired ones (they give
            # nothing) and says when the others end.
            OrganizationRole.expires_at,
            RepositoryRole.expires_at,
        )
        .select_from(OrganizationRole)
        .join(User, User.id == OrganizationRole.user_id)
        .outerjoin(
            RepositoryRole,
            and_(
                RepositoryRole.user_id == OrganizationRole.user_id,
                RepositoryRole.organization_id == OrganizationRole.organization_id,
                RepositoryRole.repository_id == repository.id,
            ),
        )
        .where(
            OrganizationRole.organization_id == repository.organization_id,
            or_(
                OrganizationRole.name.in_(giving_org_roles),
                RepositoryRole.id.is_not(None),
            ),
        )
    )
    if email_contains:
        term = email_contains.lower()  # emails are stored lower-cased
        statement = statement.where(User.email.icontains(term, autoescape=True))
    return statement.order_by(User.email, User.id)


def direct_grant(
    session: Session, repository: Repository, user_id: int
) -> RepositoryRole | None:
    """The role granted to user_id on repository directly, if any."""
    return session.scalar(
        select(RepositoryRole).where(
            RepositoryRole.repository_id == repository.id,
            RepositoryRole.user_id == user_id,
        )
    )


def my_expiries(
    session: Session, repository: Repository, user_id: int
) -> tuple[str, datetime | None, str | None, datetime | None] | None:
    """user_id's organization role in repository's organization, its expiry,
    their direct grant on repository and its expiry (None: no organization
    role); one query."""
    row = session.execute(
        select(
            OrganizationRole.name,
            OrganizationRole.expires_at,
            RepositoryRole.name,
            RepositoryRole.expires_at,
        )
        .outerjoin(
            RepositoryRole,
            and_(
                RepositoryRole.user_id == OrganizationRole.user_id,
                RepositoryRole.organization_id == OrganizationRole.organization_id,
                RepositoryRole.repository_id == repository.id,
            ),
        )
        .where(
            OrganizationRole.organization_id == repository.organization_id,
            OrganizationRole.user_id == user_id,
        )
    ).one_or_none()
    if row is None:
        return None
    org_role, org_expires, direct, direct_expires = row
    return org_role, org_expires, direct, direct_expires


def member_by_email(
    session: Session, organization: Organization, email: str
) -> OrganizationRole:
    """The organization role of whoever has email, or NotInOrganization (also
    when no account has it: the same answer)."""
    role = session.scalar(
        select(OrganizationRole)
        .join(User, User.id == OrganizationRole.user_id)
        .where(
            OrganizationRole.organization_id == organization.id,
            User.email == normalize_email(email),
        )
    )
    if role is None:
        raise NotInOrganization(email, organization.name)
    return role


def grant(
    session: Session,
    repository: Repository,
    email: str,
    name: str,
    *,
    actor: User | None,
    expires: Expires = KEEP,
) -> GrantChange:
    """Give the person with email the role name on repository directly (or
    change the one they have; the same one again changes nothing), until
    expires (None: never; KEEP: a new grant never expires, an existing one
    keeps its expiry)."""
    _check_name(name)
    _check_expiry(expires)
    organization = _lock(session, repository)
    member = member_by_email(session, organization, email)
    limit = _actors_limit(session, repository, actor)
    return _set(session, repository, member, name, actor, expires, limit)


def grant_to_member(
    session: Session,
    repository: Repository,
    member: OrganizationRole,
    name: str,
    *,
    actor: User | None,
) -> GrantChange:
    """Give member (a role row of the repository's organization, whose lock the
    caller holds) the role name on repository directly; audited like grant()."""
    _check_name(name)
    return _set(session, repository, member, name, actor)


def change(
    session: Session,
    repository: Repository,
    user_id: int,
    name: str,
    shown: str | None,
    *,
    actor: User | None,
    expires: Expires = KEEP,
) -> GrantChange:
    """Change user_id's direct role on repository to name, and its expiry to
    expires (KEEP: as it is); shown: the role the form was drawn with
    (StaleGrant if it is not the current one)."""
    _check_name(name)
    _check_expiry(expires)
    return _existing(session, repository, user_id, name, shown, actor, expires)


def remove(
    session: Session,
    repository: Repository,
    user_id: int,
    shown: str | None,
    *,
    actor: User | None,
) -> GrantChange:
    """Take user_id's direct role on repository away (shown: as for change)."""
    return _existing(session, repository, user_id, None, shown, actor)


def _existing(
    session: Session,
    repository: Repository,
    user_id: int,
    name: str | None,
    shown: str | None,
    actor: User | None,
    expires: Expires = KEEP,
) -> GrantChange:
    """Change or remove (name None) user_id's existing direct grant."""
    organization = _lock(session, repository)
    current = direct_grant(session, repository, user_id)
    member = session.scalar(
        select(OrganizationRole).where(
            OrganizationRole.organization_id == organization.id,
            OrganizationRole.user_id == user_id,
        )
    )
    if current is None or member is None:
        # Named only if they are in the organization: a user id of another
        # organization's must not tell its email to this one's admins.
        who = member.user.email if member is not None else "That person"
        raise NoGrant(who, repository.name)
    if shown is not None and shown != current.name:
        raise StaleGrant(member.user.email, current.name)
    limit = _actors_limit(session, repository, actor)
    return _set(session, repository, member, name, actor, expires, limit)


def _actors_limit(
    session: Session, repository: Repository, actor: User | None
) -> datetime | None:
    """The latest a grant the actor gives or changes on repository may last:
    the earlier end of the actor's own organization role and of their own
    direct grant here (None: neither ends, or the command line). Both count,
    whichever of them lets the actor manage roles here: a bound that is too
    early only asks for a shorter expiry, one too late would let a time-limited
    admin make their access permanent."""
    if actor is None:
        return None
    ends = [
        session.scalar(
            select(OrganizationRole.expires_at).where(
                OrganizationRole.organization_id == repository.organization_id,
                OrganizationRole.user_id == actor.id,
            )
        ),
        session.scalar(
            select(RepositoryRole.expires_at).where(
                RepositoryRole.repository_id == repository.id,
                RepositoryRole.user_id == actor.id,
            )
        ),
    ]
    known = [clock.as_utc(end) for end in ends if end is not None]
    return min(known) if known else None


def _set(
    session: Session,
    repository: Repository,
    member: OrganizationRole,
    name: str | None,
    actor: User | None,
    expires: Expires = KEEP,
    limit: datetime | None = None,
) -> GrantChange:
    """Make member's direct grant name (None: none) until expires (KEEP: a new
    grant never expires, an existing one keeps its expiry); record it (lock
    held): the grant's change, and its expiry's (repository_role_expiry).
    limit: the latest the grant may end (roles.OutlastsActor if later)."""
    current = direct_grant(session, repository, member.user_id)
    old = current.name if current is not None else None
    old_expires = current.expires_at if current is not None else None
    new_expires = old_expires if isinstance(expires, Keep) else expires
    if name is None:
        new_expires = None
    else:
        check_within_actor(limit, new_expires)
    if name is None and current is not None:
        session.delete(current)
    elif current is None and name is not None:
        session.add(
            RepositoryRole(
                user_id=member.user_id,
                repository_id=repository.id,
                organization_id=repository.organization_id,
                name=name,
                expires_at=new_expires,
            )
        )
    elif current is not None and name is not None:
        current.name = name
        current.expires_at = new_expires
    # Audited: a new grant's expiry, and a kept grant's changed one (a removed
    # grant's expiry goes with it).
    expiry_changed = name is not None and not same_moment(old_expires, new_expires)
    made = GrantChange(
        organization_id=repository.organization_id,
        repository_id=repository.id,
        repository_name=repository.name,
        user_id=member.user_id,
        user_email=member.user.email,
        org_role=member.name,
        actor_id=actor.id if actor is not None else None,
        old=old,
        new=name,
        at=clock.now(),
        old_expires=old_expires if expiry_changed else None,
        new_expires=new_expires if expiry_changed else None,
        expiry_changed=expiry_changed,
    )
    if made.old != made.new:
        session.add(
            AuditEntry(
                organization_id=made.organization_id,
                at=made.at,
                action=made.action,
                actor_id=made.actor_id,
                actor_email=actor.email if actor is not None else None,
                user_id=made.user_id,
                user_email=made.user_email,
                old_role=made.old,
                new_role=made.new,
                repository_id=made.repository_id,
                repository_name=made.repository_name,
            )
        )
    if expiry_changed:
        session.add(
            AuditEntry(
                organization_id=made.organization_id,
                at=made.at,
                action="repository_role_expiry",
                actor_id=made.actor_id,
                actor_email=actor.email if actor is not None else None,
                user_id=made.user_id,
                user_email=made.user_email,
                old_role=made.new,
                new_role=made.new,
                repository_id=made.repository_id,
                repository_name=made.repository_name,
                old_value=expiry.iso(old_expires),
                new_value=expiry.iso(new_expires),
            )
        )
    if made.action:
        session.flush()  # a constraint fails here, inside the operation
    return made


def _check_expiry(expires: Expires) -> None:
    """Refuse an expiry that has passed (BadExpiry, as for organization roles)."""
    if isinstance(expires, Keep):
        return
    try:
        expiry.check_future(expires)
    except expiry.ExpiryError as error:
        raise BadExpiry(str(error)) from None


def _check_name(name: str) -> None:
    """Refuse a name that is not a repository role."""
    if name not in REPOSITORY_ROLE_NAMES:
        raise UnknownRepositoryRole(name)


def _lock(session: Session, repository: Repository) -> Organization:
    """Lock the repository's organization for the transaction (see
    portal.domain.roles.lock_organization)."""
    organization = lock_organization(session, repository.organization_id)
    assert organization is not None  # the repository's foreign key holds it
    return organization
