"""Role management: the roles page (members found by email and role, the form to
assign a role by email) and one member's pages (their access explained, changing
their role, removing them, leaving).

Who may do what is the policy's: the organization's LIST_ROLES / CREATE_ROLE /
UPDATE_ROLE for the roles page and its form, the member's role row (an
OrganizationRole: READ, UPDATE, DELETE, the last also for its HOLDER, which is
leaving) for the member pages. What the data refuses whoever asks (the last
owner) is portal.roles', whose dry runs word the disabled controls' reasons.

Every view follows the same order on consecutive lines: load the resource (404 if
it does not exist), authorize, act, render. Changes go through portal.roles inside
``db.transaction``; a refused change (RoleError) comes back as a form error with
the status the error carries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.wrappers import Response

# WTForms 3.3's choice type; see portal.forms.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

from portal import db, member_search, roles
from portal.authz import authorize, get_oso
from portal.authz.explain import AccessModel, access_model
from portal.forms import MemberRoleForm, MemberSearchForm, RemoveForm, RoleForm, text
from portal.loaders import load_member, load_organization, page_of
from portal.models import ROLE_NAMES, Organization, OrganizationRole, User
from portal.negotiation import render
from portal.paging import Page

bp = Blueprint("members", __name__)


@bp.route("/orgs/<id:org_id>/roles")
def role_list(org_id: int) -> ResponseReturnValue:
    """The members and their roles, found by email and role; owners also get the
    form to assign roles. A malformed search is 400, with the field's message."""
    organization = load_organization(org_id)
    authorize("LIST_ROLES", organization)
    search = MemberSearchForm()
    status = 200 if search.validate() else 400
    return _render_roles(organization, RoleForm(), search, status=status)


@bp.route("/orgs/<id:org_id>/roles", methods=["POST"])
def role_create(org_id: int) -> ResponseReturnValue:
    """Assign a role to a user by email, or change the one they have (the guide's
    add-or-reassign)."""
    organization = load_organization(org_id)
    authorize("CREATE_ROLE", organization)
    form = RoleForm()
    if not form.validate():
        return _render_roles(organization, form, status=422)
    session = db.get_session()
    try:
        user = roles.find_user(session, text(form.user_email))
    except roles.RoleError as error:
        return _refused(organization, form, error)
    if roles.user_role(session, organization, user) is not None:
        return _change_role(organization, user, form)
    add = partial(roles.add_user_role, session, organization, user, text(form.name))
    return _apply(organization, form, partial(add, actor=_actor()))


def _change_role(
    organization: Organization, user: User, form: RoleForm
) -> ResponseReturnValue:
    """Change the role user holds: an UPDATE_ROLE, whichever form asked for it.

    The organization is loaded and locked; user holds a role in it.
    """
    authorize("UPDATE_ROLE", organization)
    session = db.get_session()
    member = roles.user_role(session, organization, user)
    access, name = _access(organization), text(form.name)
    if member is not None and _loses_own_access(access, member, name):
        # The same confirmation as the member page's: ask before an owner takes
        # role management away from themselves, whichever form they used.
        return _render_change_confirmation(
            organization, member, MemberRoleForm(), access
        )
    change = partial(roles.reassign_user_role, session, organization, user, name)
    return _apply(organization, form, partial(change, actor=_actor()))


def _apply(
    organization: Organization,
    form: RoleForm,
    change: Callable[[], roles.RoleChange],
) -> ResponseReturnValue:
    """Run change in one transaction; flash it, or show why it was refused."""
    # Read before the commit expires the object: building the URL afterwards
    # would start another (writer) transaction just to reload it.
    org_id = organization.id
    access = _access(organization)
    try:
        done = _commit(change)
    except roles.RoleError as error:
        return _refused(organization, form, error)
    flash(_what_changed(access, done), "success")
    return redirect(url_for("members.role_list", org_id=org_id))


def _commit(change: Callable[[], roles.RoleChange]) -> roles.RoleChange:
    """Run change in one transaction and log it once committed (RoleError: refused,
    nothing changed)."""
    with db.transaction(db.get_session()):
        done = change()
    # Logged once committed: a line here means the change is in the database.
    current_app.logger.info(
        "role changed: org=%s user=%s actor=%s old=%s new=%s",
        done.organization_id,
        done.user_id,
        done.actor_id,
        done.old,
        done.new,
    )
    return done


def _access(organization: Organization) -> AccessModel:
    """What the policy grants each role in organization (computed at start-up)."""
    return access_model(get_oso(), organization)


def _what_changed(
    access: AccessModel, done: roles.RoleChange, where: str = "here"
) -> str:
    """The flash of a role change: the person, their new role, what they gained
    and lost ("ringo@beatles.com is now BILLING: gained READ_BILLING; lost
    LIST_REPOS, LIST_ROLES")."""
    gained, lost = access.change(done.old, done.new)
    parts = [
        f"{verb} {', '.join(names)}"
        for verb, names in (("gained", gained), ("lost", lost))
        if names
    ]
    if done.new is None:
        return f"{done.user_email} no longer has a role {where}: {'; '.join(parts)}."
    if not parts:
        return str(done)
    return f"{done.user_email} is now {done.new}: {'; '.join(parts)}."


def _actor() -> User:
    """The signed-in user, who acts in a role change."""
    return current_user._get_current_object()


def _refused(
    organization: Organization, form: RoleForm, error: roles.RoleError
) -> ResponseReturnValue:
    """The role page again, with the reason next to the email field."""
    current_app.logger.info(
        "role change refused: org=%s actor=%s reason=%s",
        organization.id,
        _actor().id,
        type(error).__name__,
    )
    form.user_email.errors = [*form.user_email.errors, str(error)]
    return _render_roles(organization, form, status=error.status)


def _render_roles(
    organization: Organization,
    form: RoleForm,
    search: MemberSearchForm | None = None,
    status: int = 200,
) -> Response:
    """The role page: the members found by the search, a page at a time, the
    counts per role, and the form (shown only to owners).

    Without a validated search (a POST re-rendering the page), the query
    string's is read and validated here. An invalid search lists nobody.
    """
    if search is None:
        search = MemberSearchForm()
        search.validate()
    members: Page[OrganizationRole] | None = None
    if not search.errors:
        members = page_of(
            member_search.members_matching(
                organization.id, search.q.data or "", search.role.data or ""
            )
        )
    counts = member_search.role_counts(db.get_session(), organization.id)
    return render(
        "orgs/roles.html",
        status,
        organization=organization,
        members=members,
        counts=counts,
        search=search,
        form=form,
    )


# --- one member: the page, changing and removing the role, leaving -------------


@dataclass(frozen=True)
class Membership:
    """One person's role and why the data refuses a change or removal of it, if it
    does (the last owner). Who may try at all is the policy's: ask can()."""

    role: OrganizationRole
    organization: Organization
    change_refusal: roles.RoleError | None  # why no other role can be given
    removal_refusal: roles.RoleError | None  # why the role cannot be taken away

    @property
    def is_mine(self) -> bool:
        """Whether the role is the signed-in user's own (wording: "Leave")."""
        return self.role.user_id == current_user.id

    @property
    def change_refused(self) -> str | None:
        """Why no other role can be given, as the server refuses it (JSON, 409)."""
        return None if self.change_refusal is None else str(self.change_refusal)

    @property
    def removal_refused(self) -> str | None:
        """Why the role cannot be taken away, as the server refuses it."""
        return None if self.removal_refusal is None else str(self.removal_refusal)

    @property
    def change_note(self) -> str | None:
        """change_refused as the page says it next to the disabled control."""
        return self._note(self.change_refusal, "change your role")

    @property
    def removal_note(self) -> str | None:
        """removal_refused as the page says it next to the disabled control."""
        return self._note(self.removal_refusal, "leave")

    def _note(self, refusal: roles.RoleError | None, doing: str) -> str | None:
        """refusal worded for the reader: on their own role, the last owner is
        told to their face what to do first; anyone else reads the server's words."""
        if refusal is None:
            return None
        if self.is_mine and isinstance(refusal, roles.LastOwner):
            return (
                f"You are the last owner of {self.organization.name}: make someone"
                f" else an owner before you {doing}."
            )
        return str(refusal)


def membership(organization: Organization, role: OrganizationRole) -> Membership:
    """role with the refusals the dry runs in portal.roles predict (no change)."""
    session = db.get_session()
    user = role.user
    removal = _refusal(partial(roles.check_removal, session, organization, user))
    changes = [
        _refusal(partial(roles.check_change, session, organization, user, name))
        for name in ROLE_NAMES
        if name != role.name
    ]
    # Refused only if no other role can be given; the reason is the first's.
    change = None if None in changes else changes[0]
    return Membership(role, organization, change, removal)


def own_membership(organization: Organization) -> Membership:
    """The signed-in user's membership (the overview's Leave button); they hold a
    role there, or they could not have read the organization."""
    return membership(organization, load_member(organization, current_user.id))


def _refusal(dry_run: Callable[[], object]) -> roles.RoleError | None:
    """The RoleError dry_run raises, or None if it raises none."""
    try:
        dry_run()
    except roles.RoleError as error:
        return error
    return None


@bp.route("/orgs/<id:org_id>/roles/<id:user_id>")
def member_show(org_id: int, user_id: int) -> ResponseReturnValue:
    """One member: their role, what it lets them do here and why, and the change
    and remove controls the viewer may use."""
    organization = load_organization(org_id)
    member = _find_member(organization, user_id)
    authorize("READ", member)
    return _render_member(organization, member, MemberRoleForm())


@bp.route("/orgs/<id:org_id>/roles/<id:user_id>", methods=["POST"])
def member_update(org_id: int, user_id: int) -> ResponseReturnValue:
    """Change a member's role; the flash says what they gained and lost. Changing
    one's own role so that it loses access asks for confirmation first."""
    organization = load_organization(org_id)
    member = _find_member(organization, user_id)
    authorize("UPDATE", member)
    form = MemberRoleForm()
    if not form.validate():
        return _render_member(organization, member, form, status=422)
    if text(form.current) != member.name:
        return _render_member(organization, member, form, _stale(member), status=409)
    name, access = text(form.name), _access(organization)
    if _loses_own_access(access, member, name) and not form.confirmed:
        return _render_change_confirmation(organization, member, form, access)
    return _apply_member_change(organization, member, form, access, name)


@bp.route("/orgs/<id:org_id>/roles/<id:user_id>/delete", methods=["GET", "POST"])
def member_delete(org_id: int, user_id: int) -> ResponseReturnValue:
    """Remove a member's role, or leave: GET lists what they will lose and asks
    for confirmation; POST removes it."""
    organization = load_organization(org_id)
    member = _find_member(organization, user_id)
    authorize("DELETE", member)
    form = RemoveForm()
    if request.method != "POST":  # GET, and HEAD like it
        return _render_removal(organization, member, form)
    if not form.validate():
        return _render_removal(organization, member, form, status=422)
    if text(form.current) != member.name:
        return _render_removal(organization, member, form, _stale(member), status=409)
    return _apply_removal(organization, member, form)


def _find_member(organization: Organization, user_id: int) -> OrganizationRole:
    """The role user_id holds in organization, or 404, looked up as the viewer may.

    Looking someone else up is reading the organization's member list
    (LIST_ROLES), asked before the lookup: otherwise whoever may only read the
    organization (BILLING) could tell members from strangers by the two 404s.
    One's own role needs the organization's READ only (the policy lets everyone
    read and give up their own role).
    """
    authorize("READ" if user_id == current_user.id else "LIST_ROLES", organization)
    return load_member(organization, user_id)


def _stale(member: OrganizationRole) -> str:
    """Why a form rendered for another role than member's current one is refused."""
    return (
        f"{member.user.email}'s role changed to {member.name} while you were"
        " looking. Check it and try again."
    )


def _loses_own_access(access: AccessModel, member: OrganizationRole, name: str) -> bool:
    """Whether changing member's role to name is a change the signed-in user makes
    to their own role, that takes something away from them and that the data
    allows (then they confirm it first; a refused one, the last owner's, is
    refused straight away instead of after a confirmation)."""
    _gained, lost = access.change(member.name, name)
    if member.user_id != current_user.id or not lost:
        return False
    session, user = db.get_session(), member.user
    organization = member.organization
    refused = _refusal(partial(roles.check_change, session, organization, user, name))
    return refused is None


def _apply_member_change(
    organization: Organization,
    member: OrganizationRole,
    form: MemberRoleForm,
    access: AccessModel,
    name: str,
) -> ResponseReturnValue:
    """Change member's role to name; then their page, with what changed."""
    org_id, user_id = organization.id, member.user_id  # before the commit expires
    change = partial(
        roles.reassign_user_role, db.get_session(), organization, member.user, name
    )
    try:
        done = _commit(partial(change, actor=_actor()))
    except roles.RoleError as error:
        _log_refusal(organization, error)
        return _render_member(
            organization, member, form, str(error), status=error.status
        )
    flash(_what_changed(access, done), "success")
    return redirect(url_for("members.member_show", org_id=org_id, user_id=user_id))


def _apply_removal(
    organization: Organization, member: OrganizationRole, form: RemoveForm
) -> ResponseReturnValue:
    """Take member's role away: leaving goes to the organization list, removing
    someone else back to the roles page."""
    org_id, org_name = organization.id, organization.name  # before the commit
    leaving, access = member.user_id == current_user.id, _access(organization)
    change = partial(roles.delete_user_role, db.get_session(), organization)
    try:
        done = _commit(partial(change, member.user, actor=_actor()))
    except roles.RoleError as error:
        _log_refusal(organization, error)
        return _render_removal(
            organization, member, form, str(error), status=error.status
        )
    if leaving:
        flash(f"You left {org_name}.", "success")
        return redirect(url_for("orgs.organization_list"))
    flash(_what_changed(access, done, f"in {org_name}"), "success")
    return redirect(url_for("members.role_list", org_id=org_id))


def _log_refusal(organization: Organization, error: roles.RoleError) -> None:
    """Log a refused change like _refused does."""
    current_app.logger.info(
        "role change refused: org=%s actor=%s reason=%s",
        organization.id,
        _actor().id,
        type(error).__name__,
    )


def _render_member(
    organization: Organization,
    member: OrganizationRole,
    form: MemberRoleForm,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The member page; form re-rendered for the role member holds now, offering
    the roles they do not hold (choosing theirs would change nothing), none of
    them preselected."""
    form.current.data = member.name
    form.name.choices = change_choices(member.name)
    return render(
        "orgs/member.html",
        status,
        organization=organization,
        membership=membership(organization, member),
        access=_access(organization),
        form=form,
        error=error,
    )


def change_choices(current: str) -> list[SelectChoice]:
    """The change form's options: the roles other than current, none preselected
    (one careless click must not make anyone an OWNER)."""
    return [SelectChoice("", "Choose a role…")] + [
        SelectChoice(name) for name in ROLE_NAMES if name != current
    ]


def _render_change_confirmation(
    organization: Organization,
    member: OrganizationRole,
    form: MemberRoleForm,
    access: AccessModel,
) -> Response:
    """Ask an owner to confirm a change of their own role that takes access away."""
    gained, lost = access.change(member.name, text(form.name))
    return render(
        "orgs/member_confirm.html",
        organization=organization,
        membership=membership(organization, member),
        access=access,
        form=form,
        gained=gained,
        lost=lost,
    )


def _render_removal(
    organization: Organization,
    member: OrganizationRole,
    form: RemoveForm,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The confirmation page of a removal (or leaving): exactly what they lose."""
    form.current.data = member.name
    access = _access(organization)
    return render(
        "orgs/member_delete.html",
        status,
        organization=organization,
        membership=membership(organization, member),
        access=access,
        lost=access.change(member.name, None)[1],
        form=form,
        error=error,
    )
