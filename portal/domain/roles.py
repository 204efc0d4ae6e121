"""Role management: the only code that changes who holds which role.

The guide's API (add_user_role, reassign_user_role, delete_user_role) plus
assign_role, which adds or reassigns as the role form does. Every operation:

- takes the acting user (``actor``; None for the command line) and returns a
  RoleChange with ids and the old and new role names;
- locks the organization row first (PostgreSQL; on SQLite the writer transaction
  from portal.infra.db already holds the database's write lock), so two concurrent
  changes to one organization run one after the other;
- checks its invariants with the same ``check_*`` function a page can call to show
  a control disabled with its reason: one role per user per organization, role
  names from ROLE_NAMES only, and every organization keeps at least one OWNER. A
  refused change raises a RoleError subclass and changes nothing;
- records the change in ``_record``, the one place every change passes through
  (the audit trail adds its row there, in the same transaction);
- leaves the commit to its caller: ``with db.transaction(session): ...`` in a
  request, ``db.writer_session()`` outside one. Nothing commits half a change.

Refusals and changes keep the role codes as data (``RoleChange.old``/``new``,
``AlreadyHasRole.role``) and are worded by ``say(names)`` with a ``RoleNames``:
``CODES`` ("is now BILLING", the command line's words: the codes are its input
values), or the plain words of portal/policy_words.toml on pages ("is now a
Billing manager": portal.authz.words.Words is a RoleNames). ``str()`` says them
with CODES. The domain never loads the words itself: they belong to the app.

Who may call these is the policy's business (the views authorize first); this
module keeps the data consistent whoever calls it. It never imports Flask's
request, so the command line uses it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from portal.domain import expiry
from portal.domain.models import (
    ROLE_NAMES,
    AuditEntry,
    Organization,
    OrganizationRole,
    User,
    normalize_email,
)
from portal.infra import clock

OWNER = "OWNER"


class RoleNames(Protocol):
    """How a sentence names a role: by its code, or in plain words."""

    def role_name(self, code: str) -> str:
        """The role on its own: "OWNER", or "Owner"."""
        ...

    def a_role(self, code: str) -> str:
        """The role after "is now": "OWNER", or "an Owner"."""
        ...


class Codes:
    """Roles named by their codes: the command line's words (its input values)."""

    def role_name(self, code: str) -> str:
        """The code itself."""
        return code

    def a_role(self, code: str) -> str:
        """The code itself: "is now OWNER"."""
        return code


CODES = Codes()


class RoleError(Exception):
    """A role change that was refused; ``say(names)`` words it for the user.

    ``status`` is the HTTP status of a request refused with it: by default 409,
    the request conflicts with the organization's current members.
    """

    status = 409

    def __init__(self) -> None:
        super().__init__(self.say(CODES))

    def say(self, names: RoleNames) -> str:
        """The refusal in one or two sentences, roles named by names."""
        raise NotImplementedError

    def __str__(self) -> str:
        """The refusal with the roles' codes (the command line, the logs)."""
        return self.say(CODES)


class UnknownRoleName(RoleError):
    """The role name is not one of the policy's roles."""

    status = 422  # the request names something that does not exist

    def __init__(self, name: str) -> None:
        """The error for name, shortened to 40 characters."""
        self.name = name if len(name) <= 40 else name[:40] + "…"
        super().__init__()

    def say(self, names: RoleNames) -> str:
        """Always the codes: they are what to send instead (a page's form offers
        only the roles, so only the command line and JSON get this far)."""
        return f"{self.name!r} is not a role. Choose one of {', '.join(ROLE_NAMES)}."


class NoSuchUser(RoleError):
    """No account has this email."""

    status = 422

    def __init__(self, email: str) -> None:
        """The error for email, shortened to 80 characters."""
        self.email = email if len(email) <= 80 else email[:80] + "…"
        super().__init__()

    def say(self, names: RoleNames) -> str:
        """The email that was not found."""
        return f"There is no user with the email {self.email!r}."


class AlreadyHasRole(RoleError):
    """The user already holds a role here (or exactly this role)."""

    def __init__(self, user: User, role: OrganizationRole) -> None:
        """The error naming user and the role they hold."""
        self.email, self.role = user.email, role.name
        super().__init__()

    def say(self, names: RoleNames) -> str:
        """ "paul@beatles.com is already a Member here." """
        return f"{self.email} is already {names.a_role(self.role)} here."


class NotAMember(RoleError):
    """The user holds no role here."""

    def __init__(self, user: User) -> None:
        """The error naming user."""
        self.email = user.email
        super().__init__()

    def say(self, names: RoleNames) -> str:
        """The person without a role."""
        return f"{self.email} has no role in this organization."


class LastOwner(RoleError):
    """The change would leave the organization without an owner."""

    def __init__(self, user: User) -> None:
        """The error naming user, and what to do first."""
        self.email = user.email
        super().__init__()

    def say(self, names: RoleNames) -> str:
        """The last owner, and what to do first."""
        return (
            f"{self.email} is the last {names.role_name(OWNER)}. Make someone else"
            f" {names.a_role(OWNER)} first: every organization needs at least one."
        )


class OutlastsActor(RoleError):
    """A person whose own role here expires gave or changed a role so that it
    would end later than theirs (or never): a time-limited owner could
    otherwise make their own role permanent, or a second account's."""

    status = 403

    def __init__(self, until: datetime) -> None:
        """The error saying when the actor's own role ends."""
        self.until = until
        super().__init__()

    def say(self, names: RoleNames) -> str:
        """The actor's own end, and what a role they give may do."""
        return (
            f"Your own role here ends on {expiry.long_form(self.until)}: a role"
            " you give or change must end by then too. Set an expiry no later"
            " than that, or ask someone whose role does not expire."
        )


def check_within_actor(
    own_expires: datetime | None, resulting: datetime | None
) -> None:
    """Refuse (OutlastsActor) a role or grant that would end after its giver's
    own (own_expires; None: the giver's role never ends, anything goes)."""
    if own_expires is None:
        return
    if resulting is None or clock.as_utc(resulting) > clock.as_utc(own_expires):
        raise OutlastsActor(own_expires)


def _actors_own_expiry(
    session: Session, organization: Organization, actor: User | None
) -> datetime | None:
    """When the actor's own role in organization ends (None: never, or the
    command line, which answers to nobody's expiry)."""
    if actor is None:
        return None
    own = user_role(session, organization, actor)
    return own.expires_at if own is not None else None


class LastPermanentOwner(LastOwner):
    """The change would leave the organization no owner whose role never
    expires: it would lose its last owner by the clock."""

    def __init__(self, user: User, *, giving_expiry: bool) -> None:
        """The error naming user; giving_expiry: the change gives their role an
        expiry (else it takes their role away while the other owners' expire)."""
        self.giving_expiry = giving_expiry
        super().__init__(user)

    def say(self, names: RoleNames) -> str:
        """The last permanent owner, and what to do first."""
        owner, an_owner = names.role_name(OWNER), names.a_role(OWNER)
        if self.giving_expiry:
            return (
                f"{self.email} is the last {owner} whose role does not expire, so"
                f" it cannot be given an expiry. Make someone else {an_owner}"
                " with no expiry first: an organization must not lose its last"
                " owner by the clock."
            )
        return (
            f"{self.email} is the last {owner} whose role does not expire (the"
            f" other owners' roles expire). Make someone else {an_owner}"
            " with no expiry first: every organization needs at least one."
        )


class BadExpiry(RoleError):
    """The expiry cannot be used (it has passed)."""

    status = 422  # the request asks for something that cannot be

    def __init__(self, reason: str) -> None:
        """The error saying reason (portal.domain.expiry's words)."""
        self.reason = reason
        super().__init__()

    def say(self, names: RoleNames) -> str:
        """Why the expiry cannot be used."""
        return self.reason


class NoChange(RoleError):
    """The role and its expiry are already what was asked for."""

    status = 422

    def __init__(self, user: User, role: OrganizationRole) -> None:
        """The error naming user and the role they hold."""
        self.email, self.role = user.email, role.name
        super().__init__()

    def say(self, names: RoleNames) -> str:
        """ "paul@beatles.com is already a Member here, with that expiry." """
        return (
            f"{self.email} is already {names.a_role(self.role)} here, with that"
            " expiry. Choose another role or another expiry."
        )


class Keep:
    """The expiry argument's default: leave the role's expiry as it is."""

    def __repr__(self) -> str:
        return "KEEP"


#: Pass as ``expires`` to leave a role's expiry as it is (a change of role from
#: a form that has no expiry field: the roles page's rows).
KEEP = Keep()

Expires = datetime | None | Keep


@dataclass(frozen=True)
class RoleChange:
    """What one operation did: who did it to whom, where, from which role to which.

    ``user_email`` is the person's email at the time of the change, kept because
    the audit trail must name people as they were even after their account goes.
    """

    organization_id: int
    user_id: int
    user_email: str
    actor_id: int | None  # None: the command line
    old: str | None  # None: the person had no role (an addition)
    new: str | None  # None: the role was taken away (a removal)
    at: datetime
    # The role's expiry before and after (None: never), when it changed; both
    # None when it did not.
    old_expires: datetime | None = None
    new_expires: datetime | None = None
    expiry_changed: bool = False

    @property
    def action(self) -> str:
        """The audit trail's name for it: add, change, remove, or leave (a removal
        by the person themselves); role_expiry when only the expiry changed."""
        if self.old == self.new and self.expiry_changed:
            return "role_expiry"
        if self.old is None:
            return "add"
        if self.new is not None:
            return "change"
        return "leave" if self.actor_id == self.user_id else "remove"

    def say(self, names: RoleNames) -> str:
        """The change in one sentence, roles named by names: "ringo@beatles.com
        is now a Billing manager (was a Member)."."""
        if self.new is None:
            was = "" if self.old is None else f" (was {names.a_role(self.old)})"
            return f"{self.user_email} no longer has a role{was}."
        if self.old == self.new:
            return f"{self.user_email} is {names.a_role(self.new)}{self.until}."
        now = f"{self.user_email} is now {names.a_role(self.new)}{self.until}"
        if self.old is None:
            return f"{now}."
        return f"{now} (was {names.a_role(self.old)})."

    @property
    def until(self) -> str:
        """The new expiry, as the end of a sentence about the role: " until 31
        Dec 2026, 00:00 UTC", " with no expiry" (when cleared), or ""."""
        if self.new_expires is not None:
            return f" until {expiry.long_form(self.new_expires)}"
        if self.expiry_changed:
            return " with no expiry"
        return ""

    def __str__(self) -> str:
        """The change with the roles' codes, for the command line."""
        return self.say(CODES)


def lock_organization(session: Session, organization_id: int) -> Organization | None:
    """Load the organization and lock its row until the transaction ends.

    Every membership change locks here first, so concurrent changes to one
    organization are serialized (SQLite ignores FOR UPDATE; see portal.infra.db).
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


def last_change_id(session: Session, organization: Organization) -> int:
    """The id of organization's newest role change (its audit trail's last
    entry; 0: none yet): what a form rendered now has seen.

    Every change writes its entry under the organization's lock, so within one
    organization the ids grow in commit order: an entry above it is a change
    made after.
    """
    return (
        session.scalar(
            select(func.max(AuditEntry.id)).where(
                AuditEntry.organization_id == organization.id
            )
        )
        or 0
    )


def changed_since(
    session: Session, organization: Organization, user: User, seen: int
) -> bool:
    """Whether user's role in organization changed (was added, changed or taken
    away) after the audit entry seen."""
    newer = session.scalar(
        select(AuditEntry.id)
        .where(
            AuditEntry.organization_id == organization.id,
            AuditEntry.user_id == user.id,
            AuditEntry.id > seen,
        )
        .limit(1)
    )
    return newer is not None


def count_owners(session: Session, organization: Organization) -> int:
    """How many owners organization has whose role never expires: the owners
    that count for the last-owner rule, so that no organization loses its last
    owner by the clock (an owner whose role expires is one until then, but
    cannot be the one that keeps the organization owned)."""
    return (
        session.scalar(
            select(func.count()).where(
                OrganizationRole.organization_id == organization.id,
                OrganizationRole.name == OWNER,
                OrganizationRole.expires_at.is_(None),
            )
        )
        or 0
    )


def count_all_owners(session: Session, organization: Organization) -> int:
    """How many owners organization has, expiring or expired ones included
    (for the wording of a refusal)."""
    return (
        session.scalar(
            select(func.count()).where(
                OrganizationRole.organization_id == organization.id,
                OrganizationRole.name == OWNER,
            )
        )
        or 0
    )


# --- dry runs: raise exactly the error the change would, change nothing --------


def check_add(
    session: Session, organization: Organization, user: User, name: str
) -> None:
    """Raise the RoleError that add_user_role would raise, or nothing."""
    _check_name(name)
    existing = user_role(session, organization, user)
    if existing is not None:
        raise AlreadyHasRole(user, existing)


def check_change(
    session: Session,
    organization: Organization,
    user: User,
    name: str,
    expires: Expires = KEEP,
) -> OrganizationRole:
    """Raise the RoleError that reassign_user_role would raise; else the role row.

    expires: the role's new expiry (None: never; KEEP: as it is). The same role
    is a change only with another expiry (else AlreadyHasRole, or NoChange when
    an expiry was sent). Taking OWNER from the last owner whose role never
    expires, or giving that role an expiry, is refused (LastOwner).
    """
    _check_name(name)
    check_expiry(expires)
    role = user_role(session, organization, user)
    if role is None:
        raise NotAMember(user)
    same_expiry = isinstance(expires, Keep) or same_moment(role.expires_at, expires)
    if role.name == name and same_expiry:
        if isinstance(expires, Keep):
            raise AlreadyHasRole(user, role)
        raise NoChange(user, role)
    if role.name == OWNER and role.expires_at is None:
        if name != OWNER:
            _keep_an_owner(session, organization, user)
        elif not isinstance(expires, Keep) and expires is not None:
            _keep_an_owner(session, organization, user, giving_expiry=True)
    return role


def check_removal(
    session: Session, organization: Organization, user: User
) -> OrganizationRole:
    """Raise the RoleError that delete_user_role would raise; else the role row."""
    role = user_role(session, organization, user)
    if role is None:
        raise NotAMember(user)
    if role.name == OWNER and role.expires_at is None:
        _keep_an_owner(session, organization, user)
    return role


def check_assign(
    session: Session,
    organization: Organization,
    user: User,
    name: str,
    expires: Expires = KEEP,
) -> OrganizationRole | None:
    """Raise the RoleError that assign_role would raise; else the current role row
    (None: assigning adds one)."""
    _check_name(name)
    check_expiry(expires)
    if user_role(session, organization, user) is None:
        return None
    return check_change(session, organization, user, name, expires)


# --- changes: lock, check, change, record; the caller commits -----------------


def add_user_role(
    session: Session,
    organization: Organization,
    user: User,
    name: str,
    *,
    actor: User | None,
    expires: datetime | None = None,
) -> RoleChange:
    """Give user the role name in organization (until expires; None: for good);
    they must not have one yet."""
    _lock(session, organization)
    check_add(session, organization, user, name)
    check_expiry(expires)
    return _add(session, organization, user, name, actor, expires)


def reassign_user_role(
    session: Session,
    organization: Organization,
    user: User,
    name: str,
    *,
    actor: User | None,
    expires: Expires = KEEP,
) -> RoleChange:
    """Change user's role in organization to name, and its expiry to expires
    (None: never; KEEP: as it is)."""
    _lock(session, organization)
    role = check_change(session, organization, user, name, expires)
    return _reassign(session, organization, user, role, name, actor, expires)


def delete_user_role(
    session: Session, organization: Organization, user: User, *, actor: User | None
) -> RoleChange:
    """Take user's role in organization away."""
    _lock(session, organization)
    role = check_removal(session, organization, user)
    session.delete(role)
    return _record(session, organization, user, actor, role.name, None)


def assign_role(
    session: Session,
    organization: Organization,
    user: User,
    name: str,
    *,
    actor: User | None,
    expires: Expires = KEEP,
) -> RoleChange:
    """Give user the role name: add it, or reassign the one they have (the guide's
    endpoint). Find the user by email with find_user(). expires: when the role
    ends (None: never; KEEP: a new role never, a changed one as it is)."""
    _lock(session, organization)
    role = check_assign(session, organization, user, name, expires)
    if role is None:
        added = None if isinstance(expires, Keep) else expires
        return _add(session, organization, user, name, actor, added)
    return _reassign(session, organization, user, role, name, actor, expires)


def check_expiry(expires: Expires) -> None:
    """Refuse an expiry that has passed (BadExpiry)."""
    if isinstance(expires, Keep):
        return
    try:
        expiry.check_future(expires)
    except expiry.ExpiryError as error:
        raise BadExpiry(str(error)) from None


def same_moment(stored: datetime | None, wanted: datetime | None) -> bool:
    """Whether a stored expiry and a wanted one are the same moment."""
    if stored is None or wanted is None:
        return stored is wanted
    return clock.as_utc(stored) == clock.as_utc(wanted)


def _check_name(name: str) -> None:
    """Refuse a name that is not one of the policy's roles."""
    if name not in ROLE_NAMES:
        raise UnknownRoleName(name)


def _lock(session: Session, organization: Organization) -> None:
    """Lock organization's row for the transaction (see lock_organization)."""
    lock_organization(session, organization.id)


def _add(
    session: Session,
    organization: Organization,
    user: User,
    name: str,
    actor: User | None,
    expires: datetime | None = None,
) -> RoleChange:
    """Add the role row (lock held, checks passed); an expiry is recorded too."""
    check_within_actor(_actors_own_expiry(session, organization, actor), expires)
    session.add(
        OrganizationRole(
            organization=organization, user=user, name=name, expires_at=expires
        )
    )
    change = _record(session, organization, user, actor, None, name)
    if expires is None:
        return change
    expiries = (None, expires)
    return _record_expiry(session, organization, user, actor, name, change, expiries)


def _reassign(
    session: Session,
    organization: Organization,
    user: User,
    role: OrganizationRole,
    name: str,
    actor: User | None,
    expires: Expires = KEEP,
) -> RoleChange:
    """Change the role row to name and expires (lock held, checks passed): an
    audit entry for each of the two that changed."""
    resulting = role.expires_at if isinstance(expires, Keep) else expires
    check_within_actor(_actors_own_expiry(session, organization, actor), resulting)
    old, role.name = role.name, name
    old_expires = role.expires_at
    if isinstance(expires, Keep) or same_moment(old_expires, expires):
        return _record(session, organization, user, actor, old, name)
    role.expires_at = expires
    change = None
    if old != name:
        change = _record(session, organization, user, actor, old, name)
    return _record_expiry(
        session, organization, user, actor, name, change, (old_expires, expires)
    )


def _record_expiry(
    session: Session,
    organization: Organization,
    user: User,
    actor: User | None,
    name: str,
    change: RoleChange | None,
    expiries: tuple[datetime | None, datetime | None],
) -> RoleChange:
    """Record that user's role (name) got the expiry new of expiries (old, new;
    None: never), in the audit trail (role_expiry, ISO 8601 times); the
    RoleChange of the whole operation (change: the role's own change, if it
    changed too)."""
    old, new = expiries
    if change is None:
        change = RoleChange(
            organization_id=organization.id,
            user_id=user.id,
            user_email=user.email,
            actor_id=actor.id if actor is not None else None,
            old=name,
            new=name,
            at=clock.now(),
        )
    made = replace(change, old_expires=old, new_expires=new, expiry_changed=True)
    session.add(
        AuditEntry(
            organization_id=made.organization_id,
            at=made.at,
            action="role_expiry",
            actor_id=made.actor_id,
            actor_email=actor.email if actor is not None else None,
            user_id=made.user_id,
            user_email=made.user_email,
            old_role=name,
            new_role=name,
            old_value=expiry.iso(old),
            new_value=expiry.iso(new),
        )
    )
    session.flush()
    return made


def leaves_no_owner(
    role_name: str, owners: int, expires_at: datetime | None = None
) -> bool:
    """Whether taking role_name away (changing or removing it) leaves none of the
    organization's owners whose role never expires, given how many it has
    (count_owners): the one rule behind LastOwner. A role that expires is not
    one of them (expires_at: its expiry)."""
    return role_name == OWNER and expires_at is None and owners <= 1


def _keep_an_owner(
    session: Session,
    organization: Organization,
    user: User,
    *,
    giving_expiry: bool = False,
) -> None:
    """Refuse to take OWNER from user, or to give their OWNER role an expiry
    (giving_expiry), if they are the organization's only owner whose role never
    expires."""
    if not leaves_no_owner(OWNER, count_owners(session, organization)):
        return
    if giving_expiry or count_all_owners(session, organization) > 1:
        raise LastPermanentOwner(user, giving_expiry=giving_expiry)
    raise LastOwner(user)


def _record(
    session: Session,
    organization: Organization,
    user: User,
    actor: User | None,
    old: str | None,
    new: str | None,
) -> RoleChange:
    """The one place every change passes through, inside the caller's transaction.

    Adds the change's audit entry to the same transaction, so the entry commits
    with the change or not at all. Flushes, so that a constraint the database
    enforces fails here, inside the operation, rather than at the caller's commit.
    """
    change = RoleChange(
        organization_id=organization.id,
        user_id=user.id,
        user_email=user.email,
        actor_id=actor.id if actor is not None else None,
        old=old,
        new=new,
        at=clock.now(),
    )
    session.add(
        AuditEntry(
            organization_id=change.organization_id,
            at=change.at,
            action=change.action,
            actor_id=change.actor_id,
            actor_email=actor.email if actor is not None else None,
            user_id=change.user_id,
            user_email=change.user_email,
            old_role=change.old,
            new_role=change.new,
        )
    )
    session.flush()
    return change
