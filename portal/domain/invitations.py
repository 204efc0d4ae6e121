"""Invitations: a role offered by email, given only when its link is used.

The decision (issue 19). The roles page's form no longer gives anyone a role
directly. It used to add whoever had an account and answer "There is no user
with the email ..." otherwise: it added people without asking them, and told any
owner which emails have accounts. Now:

- For an email that holds no role in the organization, with or without an
  account, ``invite`` creates a pending Invitation and queues a mail with its
  link. The owner's answer is always the same ("Invitation sent to x@y."): the
  same flash, status and JSON, and the same work (no lookup of the account at
  all: which emails have accounts is nobody's business but theirs).
- For an email that already holds a role here, ``AlreadyMember`` (the owner sees
  the members anyway) and nothing changes. Changing a member's role stays on the
  member page; ``flask --app portal assign-role`` stays the administrator's
  direct way.
- Inviting an email that has a pending invitation sends it again (``resend``
  semantics, with the role now chosen): a new token, a new 7-day expiry, the old
  link dead. One pending invitation per email per organization.
- The link (``GET /invitations/<token>``) lets a new person set a password and
  be logged in with the role; someone with an account logs in as that email and
  accepts or declines. ``accept`` creates the OrganizationRole (the invitation's
  role) and deletes the invitation, in one transaction under the organization's
  lock; ``decline`` and ``revoke`` delete it. Only the token's SHA-256 is stored
  (portal.domain.models.new_link_token), so a used link finds nothing: single use.
- After 7 days the link is refused like an unknown one. The expiry is audited
  (``expire_invitation``) when first seen: by the link, by the roles page's list,
  or by inviting the same email again; the row goes then.
- Pending invitations count toward nothing (no last-owner rule, no member
  count) until accepted.

Every step writes an AuditEntry (user_email: the invited email; new_role: the
role; old_role: the role offered before, for a resend that changed it). Mail
goes through portal.domain.outbox in the same transaction. The subject is a
fixed sentence: names people choose (the organization's) stay out of the mail's
headers, and are written on one line in its body.

Like portal.domain.roles: every function takes the session, locks the
organization first, and leaves the commit to its caller; no Flask here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.domain import outbox, roles
from portal.domain.models import (
    ROLE_NAMES,
    AuditEntry,
    Invitation,
    Organization,
    OrganizationRole,
    User,
    hash_link_token,
    new_link_token,
    normalize_email,
)
from portal.domain.roles import RoleError, RoleNames
from portal.infra import clock

#: How a link is made from its token (the web's public_url, given by the caller:
#: the domain knows no URLs).
LinkMaker = Callable[[str], str]

#: How long a link works after it was (last) sent.
LIFETIME = timedelta(days=7)

#: The subject of every invitation: no user-chosen text in a header.
SUBJECT = "You are invited to an organization on Portal"

#: What a link's token looks like (new_link_token: 43 URL-safe characters).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")
#: Line breaks and other control characters, written as a space in the body.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class AlreadyMember(RoleError):
    """The email already holds a role in the organization: nothing to invite."""

    def __init__(self, email: str, role: str) -> None:
        self.email, self.role = email, role
        super().__init__()

    def say(self, names: RoleNames) -> str:
        """ "paul@beatles.com is already a Member here." """
        return (
            f"{self.email} is already {names.a_role(self.role)} here. Change"
            " their role on their page."
        )


class NotInvited(RoleError):
    """Someone other than the invited email tried to use the invitation."""

    status = 403

    def __init__(self, email: str) -> None:
        self.email = email
        super().__init__()

    def say(self, names: RoleNames) -> str:
        """Who is logged in, and that the invitation is not theirs."""
        return (
            f"This invitation is for another email address, not {self.email}."
            " Log out, then open the link again and log in as the person it"
            " was sent to."
        )


class InvitationGone(RoleError):
    """The invitation was used, declined, revoked or expired meanwhile."""

    status = 404

    def say(self, names: RoleNames) -> str:
        """One sentence for every reason (which one is nobody's business)."""
        return LINK_REFUSED


LINK_REFUSED = (
    "This invitation link does not work: it may have expired, been used or been"
    " withdrawn. Ask whoever invited you to send a new one."
)


@dataclass(frozen=True)
class Sent:
    """An invitation just sent (or sent again): its link's token, to build the
    link from (the database keeps only its hash)."""

    invitation: Invitation
    token: str
    resent: bool


def one_line(text: str) -> str:
    """text on one line: its control characters as spaces (a name in a body)."""
    return _CONTROL.sub(" ", text)


def when(moment: datetime) -> str:
    """A moment as the mail and the pages say it: "15 December 2026, 01:20 UTC"."""
    at = clock.as_utc(moment)
    return f"{at.day} {at:%B %Y, %H:%M} UTC"


def invite(
    session: Session,
    organization: Organization,
    email: str,
    role: str,
    *,
    actor: User | None,
    link: LinkMaker,
    names: RoleNames,
    role_expires: datetime | None = None,
) -> Sent:
    """Invite email to organization as role (until role_expires, once accepted;
    None: for good), or send a pending invitation again (AlreadyMember if the
    email holds a role here; BadExpiry if role_expires has passed). Queues the
    mail."""
    roles.lock_organization(session, organization.id)
    if role not in ROLE_NAMES:
        raise roles.UnknownRoleName(role)
    roles.check_expiry(role_expires)
    if actor is not None:
        own = roles.user_role(session, organization, actor)
        roles.check_within_actor(own.expires_at if own else None, role_expires)
    email = normalize_email(email)
    held = session.scalar(
        select(OrganizationRole.name)
        .join(User, User.id == OrganizationRole.user_id)
        .where(OrganizationRole.organization_id == organization.id, User.email == email)
    )
    if held is not None:
        raise AlreadyMember(email, held)
    pending = session.scalar(
        select(Invitation).where(
            Invitation.organization_id == organization.id, Invitation.email == email
        )
    )
    if pending is not None and _expired(pending):
        _expire(session, pending)
        pending = None
    if pending is not None:
        pending.role_expires_at = role_expires
        return _send_again(session, organization, pending, role, actor, link, names)
    token, token_hash = new_link_token()
    invitation = Invitation(
        organization_id=organization.id,
        email=email,
        role=role,
        role_expires_at=role_expires,
        token_hash=token_hash,
        inviter_id=actor.id if actor is not None else None,
        inviter_email=actor.email if actor is not None else None,
        expires_at=clock.now() + LIFETIME,
    )
    session.add(invitation)
    _audit(session, invitation, "invite", actor)
    _mail(session, organization, invitation, token, link, names)
    return Sent(invitation, token, resent=False)


def resend(
    session: Session,
    organization: Organization,
    invitation_id: int,
    *,
    actor: User | None,
    link: LinkMaker,
    names: RoleNames,
) -> Sent:
    """Send a pending invitation again: a new token and 7 more days; the old link
    stops working (InvitationGone if it is no longer pending)."""
    invitation = _pending(session, organization, invitation_id)
    return _send_again(
        session, organization, invitation, invitation.role, actor, link, names
    )


def revoke(
    session: Session,
    organization: Organization,
    invitation_id: int,
    *,
    actor: User | None,
) -> Invitation:
    """Withdraw a pending invitation: its link stops working."""
    invitation = _pending(session, organization, invitation_id)
    _audit(session, invitation, "revoke_invitation", actor)
    session.delete(invitation)
    session.flush()
    return invitation


def find(session: Session, token: str) -> Invitation | None:
    """The pending invitation whose link carries token (None: malformed, unknown,
    used, revoked, or expired: an expired one is retired here, audited)."""
    if not _TOKEN.fullmatch(token):
        return None
    invitation = session.scalar(
        select(Invitation).where(Invitation.token_hash == hash_link_token(token))
    )
    if invitation is None or not _expired(invitation):
        return invitation
    return None


def retire_if_expired(session: Session, token: str) -> bool:
    """In a writer transaction: audit and delete the invitation of token if it
    has expired (the first to see it does). Whether it had."""
    if not _TOKEN.fullmatch(token):
        return False
    by_token = select(Invitation).where(Invitation.token_hash == hash_link_token(token))
    found = session.scalar(by_token)
    if found is None or not _expired(found):
        return False
    roles.lock_organization(session, found.organization_id)
    # Read again under the lock: another request may have retired, revoked,
    # answered or resent it meanwhile (then there is nothing to retire).
    session.expunge(found)
    found = session.scalar(by_token)
    if found is None or not _expired(found):
        return False
    _expire(session, found)
    return True


def retire_expired(session: Session, organization_id: int) -> int:
    """In a writer transaction: audit and delete organization's expired
    invitations (the roles page's list, when it sees some). How many."""
    roles.lock_organization(session, organization_id)
    expired = session.scalars(
        select(Invitation).where(
            Invitation.organization_id == organization_id,
            Invitation.expires_at <= clock.now(),
        )
    ).all()
    for invitation in expired:
        _expire(session, invitation)
    return len(expired)


def has_expired(session: Session, organization_id: int) -> bool:
    """Whether organization has an expired invitation not yet retired."""
    found = session.scalar(
        select(Invitation.id)
        .where(
            Invitation.organization_id == organization_id,
            Invitation.expires_at <= clock.now(),
        )
        .limit(1)
    )
    return found is not None


def pending_in(organization_id: int) -> Select[Any]:
    """The organization's pending invitations, soonest to expire first (one
    query for a page of them: paginate it)."""
    return (
        select(Invitation)
        .where(
            Invitation.organization_id == organization_id,
            Invitation.expires_at > clock.now(),
        )
        .order_by(Invitation.expires_at, Invitation.id)
    )


def account_for(session: Session, invitation: Invitation) -> User | None:
    """The account of the invited email, if there is one."""
    return session.scalar(select(User).where(User.email == invitation.email))


def accept(
    session: Session, token: str, user: User
) -> tuple[OrganizationRole, Organization]:
    """user, who must be the invited email's account, takes the invitation's
    role; the invitation goes. One transaction under the organization's lock."""
    invitation = _locked_by_token(session, token)
    if normalize_email(user.email) != invitation.email:
        raise NotInvited(user.email)
    organization = session.get(Organization, invitation.organization_id)
    assert organization is not None  # the lock found it
    held = roles.user_role(session, organization, user)
    if held is not None:
        raise AlreadyMember(user.email, held.name)
    # A role offered until a moment that passed before the answer would grant
    # nothing: say so rather than add it.
    roles.check_expiry(invitation.role_expires_at)
    role = OrganizationRole(
        organization=organization,
        user=user,
        name=invitation.role,
        expires_at=invitation.role_expires_at,
    )
    session.add(role)
    _audit(session, invitation, "accept_invitation", user, user=user)
    session.delete(invitation)
    session.flush()
    return role, organization


def accept_as_new(
    session: Session, token: str, password_hash: str
) -> tuple[User, OrganizationRole, Organization]:
    """Create the account of the invited email (password_hash: hashed by the
    caller, before this transaction) and accept the invitation with it."""
    invitation = _locked_by_token(session, token)
    if account_for(session, invitation) is not None:
        raise AccountExists()
    user = User(email=invitation.email, password_hash=password_hash)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as error:
        # Made meanwhile outside the organization's lock (create-user).
        raise AccountExists() from error
    role, organization = accept(session, token, user)
    return user, role, organization


class AccountExists(RoleError):
    """The invited email has an account (made since the page was shown)."""

    def say(self, names: RoleNames) -> str:
        """What to do instead."""
        return "This email has an account now: log in to accept the invitation."


def decline(session: Session, token: str, user: User | None) -> Invitation:
    """Turn the invitation down; it goes. user: who is logged in (None: nobody,
    for an email without an account), who must be the invited email's."""
    invitation = _locked_by_token(session, token)
    if user is not None and normalize_email(user.email) != invitation.email:
        raise NotInvited(user.email)
    # Declined with the link alone (no account): the link's holder is the
    # invited person, named as who did it (not as the command line).
    _audit(
        session,
        invitation,
        "decline_invitation",
        user,
        user=user,
        by=None if user is not None else invitation.email,
    )
    session.delete(invitation)
    session.flush()
    return invitation


# --- the parts ---------------------------------------------------------------


def _expired(invitation: Invitation) -> bool:
    return clock.as_utc(invitation.expires_at) <= clock.now()


def _pending(
    session: Session, organization: Organization, invitation_id: int
) -> Invitation:
    """The organization's pending invitation invitation_id (lock taken), else
    InvitationGone (an expired one is retired first)."""
    roles.lock_organization(session, organization.id)
    invitation = session.get(Invitation, invitation_id, populate_existing=True)
    if invitation is None or invitation.organization_id != organization.id:
        raise InvitationGone()
    if _expired(invitation):
        raise InvitationGone()  # the list retires it (this change rolls back)
    return invitation


def _locked_by_token(session: Session, token: str) -> Invitation:
    """The pending invitation of token, its organization locked, else
    InvitationGone."""
    found = find(session, token)
    if found is None:
        raise InvitationGone()
    roles.lock_organization(session, found.organization_id)
    # Read again under the lock: used or revoked meanwhile is gone now.
    invitation = find(session, token)
    if invitation is None:
        raise InvitationGone()
    session.refresh(invitation)
    return invitation


def _send_again(
    session: Session,
    organization: Organization,
    invitation: Invitation,
    role: str,
    actor: User | None,
    link: LinkMaker,
    names: RoleNames,
) -> Sent:
    old = invitation.role
    token, invitation.token_hash = new_link_token()
    invitation.role = role
    invitation.expires_at = clock.now() + LIFETIME
    if actor is not None:
        invitation.inviter_id, invitation.inviter_email = actor.id, actor.email
    _audit(session, invitation, "resend_invitation", actor, old=old)
    _mail(session, organization, invitation, token, link, names)
    return Sent(invitation, token, resent=True)


def _expire(session: Session, invitation: Invitation) -> None:
    _audit(session, invitation, "expire_invitation", None)
    session.delete(invitation)
    session.flush()


def _audit(
    session: Session,
    invitation: Invitation,
    action: str,
    actor: User | None,
    *,
    user: User | None = None,
    old: str | None = None,
    by: str | None = None,
) -> None:
    """Add the step's audit entry (by: who did it, when no account did)."""
    session.add(
        AuditEntry(
            organization_id=invitation.organization_id,
            at=clock.now(),
            action=action,
            actor_id=actor.id if actor is not None else None,
            actor_email=actor.email if actor is not None else by,
            user_id=user.id if user is not None else None,
            user_email=invitation.email,
            old_role=old if old != invitation.role else None,
            new_role=invitation.role,
        )
    )
    session.flush()


def _mail(
    session: Session,
    organization: Organization,
    invitation: Invitation,
    token: str,
    link: LinkMaker,
    names: RoleNames,
) -> None:
    """Queue the invitation's mail: who invites, where, as what, the link, until
    when. Names people choose go into the body only, on one line."""
    who = invitation.inviter_email or "An administrator"
    lines: Sequence[str] = (
        f"{one_line(who)} invited you to join {one_line(organization.name)} on"
        f" Portal as {names.a_role(invitation.role)}"
        + (
            f", until {when(invitation.role_expires_at)}."
            if invitation.role_expires_at is not None
            else "."
        ),
        "",
        "To accept (or decline), open this link:",
        link(token),
        "",
        f"The link works once, until {when(invitation.expires_at)}.",
        "If you did not expect this invitation, you can ignore this mail.",
    )
    outbox.enqueue(
        session,
        kind="invitation",
        to=invitation.email,
        subject=SUBJECT,
        body="\n".join(lines) + "\n",
    )
