"""One person's membership of an organization, as a page (or the command line)
shows it: their role row, and whether the data refuses to change or remove it.

Read once per page: the role and the organization's owner count (one statement
for the overview's own membership, one count for a member page that has loaded
the row already). The refusals follow from those two values by portal.domain.roles' own
rule (``leaves_no_owner``), so no dry run repeats the reads. Who is looking is
passed in (``viewer_id``), never read from the request: no Flask here, and the
command line and tests build one the same way. Who may try a change at all is the
policy's business, not this module's. The refusals are worded with the roles
named by ``names`` (portal.domain.roles.RoleNames): a page passes the app's plain
words, the command line keeps the codes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from portal.domain import roles
from portal.domain.models import Organization, OrganizationRole


@dataclass(frozen=True)
class Membership:
    """One person's role and why the data refuses a change or removal of it, if it
    does (the last owner), as seen by the person viewer_id (None: nobody signed in,
    the command line)."""

    role: OrganizationRole
    organization: Organization
    # The organization's owners whose role never expires when the role was read
    # (roles.count_owners: the ones the last-owner rule counts).
    owners: int
    viewer_id: int | None
    names: roles.RoleNames = roles.CODES  # how the refusals name roles

    @property
    def is_mine(self) -> bool:
        """Whether the role is the viewer's own (wording: "Leave")."""
        return self.role.user_id == self.viewer_id

    @property
    def change_refusal(self) -> roles.RoleError | None:
        """Why no other role can be given (the last owner), or None.

        Every other refusal of check_change (an unknown name, no role, the same
        role) cannot happen to another of the policy's roles for a role row that
        exists, so the owner count decides alone.
        """
        return self._last_owner()

    @property
    def removal_refusal(self) -> roles.RoleError | None:
        """Why the role cannot be taken away (the last owner), or None."""
        return self._last_owner()

    @property
    def change_refused(self) -> str | None:
        """Why no other role can be given, as the server refuses it (JSON, 409)."""
        refusal = self.change_refusal
        return None if refusal is None else refusal.say(self.names)

    @property
    def removal_refused(self) -> str | None:
        """Why the role cannot be taken away, as the server refuses it."""
        refusal = self.removal_refusal
        return None if refusal is None else refusal.say(self.names)

    @property
    def change_note(self) -> str | None:
        """change_refused as the page says it next to the disabled control."""
        return self._note(self.change_refusal, "change your role")

    @property
    def removal_note(self) -> str | None:
        """removal_refused as the page says it next to the disabled control."""
        return self._note(self.removal_refusal, "leave")

    @property
    def row_note(self) -> str | None:
        """Why the role can neither change nor go, as the roles page says it on
        the row (a list row has room for one note, not one per control)."""
        return self._note(
            self.change_refusal or self.removal_refusal, "change your role or leave"
        )

    def _last_owner(self) -> roles.RoleError | None:
        """LastOwner if taking this role away leaves the organization no owner."""
        if roles.leaves_no_owner(self.role.name, self.owners, self.role.expires_at):
            return roles.LastOwner(self.role.user)
        return None

    def _note(self, refusal: roles.RoleError | None, doing: str) -> str | None:
        """refusal worded for the reader: on their own role, the last owner is
        told to their face what to do first; anyone else reads the server's words."""
        if refusal is None:
            return None
        if self.is_mine and isinstance(refusal, roles.LastOwner):
            names, owner = self.names, roles.OWNER
            return (
                f"You are the last {names.role_name(owner)} of"
                f" {self.organization.name}: make someone else"
                f" {names.a_role(owner)} before you {doing}."
            )
        return refusal.say(self.names)


def membership_of(
    session: Session,
    organization: Organization,
    role: OrganizationRole,
    viewer_id: int | None,
    names: roles.RoleNames = roles.CODES,
) -> Membership:
    """The membership of a role row already loaded: one count of the owners."""
    owners = roles.count_owners(session, organization)
    return Membership(role, organization, owners, viewer_id, names)


def find_membership(
    session: Session,
    organization: Organization,
    user_id: int,
    viewer_id: int | None,
    names: roles.RoleNames = roles.CODES,
) -> Membership | None:
    """user_id's membership of organization, or None if they hold no role row
    there; the row and the owner count in one statement."""
    owner = aliased(OrganizationRole)  # not the outer row: a separate count
    owners = (
        select(func.count())
        .select_from(owner)
        .where(
            owner.organization_id == organization.id,
            owner.name == roles.OWNER,
            owner.expires_at.is_(None),  # the owners that count (count_owners)
        )
        .scalar_subquery()
    )
    row = session.execute(
        select(OrganizationRole, owners).where(
            OrganizationRole.organization_id == organization.id,
            OrganizationRole.user_id == user_id,
        )
    ).one_or_none()
    if row is None:
        return None
    role, count = row
    return Membership(role, organization, int(count), viewer_id, names)
