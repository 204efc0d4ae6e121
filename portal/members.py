"""Role management: the roles page (members found by email and role, the form to
assign a role by email) and one member's pages (their access explained, changing
their role, removing them, leaving).

Who may do what is the policy's: the organization's LIST_ROLES / CREATE_ROLE /
UPDATE_ROLE for the roles page and its form, the member's role row (an
OrganizationRole: READ, UPDATE, DELETE, the last also for its HOLDER, which is
leaving) for the member pages. What the data refuses whoever asks (the last
owner) is portal.domain.roles', which portal.domain.membership applies to word
the disabled controls' reasons.

The people page's rows carry the member page's controls (a role select posting
to member_update, Remove leading to member_delete); what the viewer may do to
each row is one policy question for the whole page (decide_rows), never one per
row.

Every view follows the same order on consecutive lines: load the resource (404
if it does not exist), authorize, act, render. Changes go through
portal.domain.roles inside ``db.transaction``; a refused change (RoleError) comes
back as a form error with the status the error carries. Each page's data and its
JSON are a page class in this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from flask import (
    Blueprint,
    abort,
    current_app,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.wrappers import Response

# WTForms 3.3's choice type; see portal.forms.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

from portal.authz import authorize, can, decide_rows, get_oso, words
from portal.authz.explain import AccessModel, access_model
from portal.authz.words import Words, joined
from portal.domain import expiry, invitations, member_search, paging, roles
from portal.domain.member_search import RoleCounts
from portal.domain.membership import Membership, membership_of
from portal.domain.models import (
    ROLE_NAMES,
    Invitation,
    Organization,
    OrganizationRole,
    User,
)
from portal.domain.paging import Page
from portal.forms import (
    InvitationActionForm,
    InviteForm,
    MemberRoleForm,
    MemberSearchForm,
    RemoveForm,
    text,
)
from portal.infra import db
from portal.infra.clock import as_utc
from portal.web.invitation_links import invitation_link, writing
from portal.web.loaders import load_member, load_organization, page_of
from portal.web.negotiation import done, render
from portal.web.pages import Body, PageView, organization_json, paging_json
from portal.web.refusals import refusal
from portal.web.wording import full_stop

bp = Blueprint("members", __name__)


# --- JSON pieces ------------------------------------------------------------------


def member_json(role: OrganizationRole) -> Body:
    """A member as the lists and the member pages name them; expires_at: when
    their role ends (ISO 8601 UTC; null: never), and expired whether it has
    (an expired role grants nothing, and is listed until renewed or removed)."""
    return {
        "user": {"id": role.user_id, "email": role.user.email},
        "role": role.name,
        "expires_at": expiry.iso(role.expires_at),
        "expired": expiry.expired(role.expires_at),
        "url": url_for(
            "members.member_show",
            org_id=role.organization_id,
            user_id=role.user_id,
        ),
    }


# --- the roles page -----------------------------------------------------------------


@dataclass(frozen=True)
class RolesPage(PageView):
    """The members found by the search, a page at a time, the counts per role,
    the assign form ("Add people", shown only to owners), and on each row the
    controls the viewer may use on it (decided for all rows at once)."""

    template = "orgs/roles.html"
    organization: Organization
    members: Page[OrganizationRole] | None  # None: the search is invalid (400)
    counts: RoleCounts
    search: MemberSearchForm
    form: InviteForm
    # The pending invitations (None: the viewer may not see them), a page at a
    # time, and the CSRF-only form of their Resend and Revoke buttons.
    invitations: Page[Invitation] | None
    invitation_form: InvitationActionForm
    # Each member shown, with what the data refuses about their role (the last
    # owner's): the rows' controls.
    rows: Sequence[Membership]
    role_names: Sequence[str] = ROLE_NAMES  # the row selects' options

    def json(self) -> Body:
        """The members found, where they are in the list, the counts, the search."""
        search = self.search
        members = self.members
        assert members is not None  # an invalid search is a 400: error_json
        return {
            "organization": organization_json(self.organization),
            # What the viewer may do to each (the row controls), as the member
            # page's JSON says it: decided for all rows at once.
            "members": [
                {
                    **member_json(role),
                    "may_change": can("UPDATE", role),
                    "may_remove": can("DELETE", role),
                }
                for role in members.items
            ],
            "paging": paging_json(
                members, q=search.q.data or None, role=search.role.data or None
            ),
            "counts": dict(self.counts.by_role),
            "search": {"q": search.q.data or "", "role": search.role.data or ""},
            # For whoever may invite: the pending invitations (codes), paged.
            "invitations": (
                None
                if self.invitations is None
                else {
                    "items": [invitation_json(i) for i in self.invitations.items],
                    # Their own page number: ?invitations_page=2.
                    "page": self.invitations.number,
                    "pages": self.invitations.pages,
                    "total": self.invitations.total,
                }
            ),
        }


def invitation_json(invitation: Invitation) -> Body:
    """A pending invitation as the roles page lists it (role: a code)."""
    org_id, inv_id = invitation.organization_id, invitation.id
    return {
        "id": inv_id,
        "email": invitation.email,
        "role": invitation.role,
        # When the role ends once accepted (null: never).
        "role_expires_at": (
            as_utc(invitation.role_expires_at).isoformat()
            if invitation.role_expires_at is not None
            else None
        ),
        "inviter": invitation.inviter_email,
        "expires_at": as_utc(invitation.expires_at).isoformat(),
        "resend": url_for(
            "invitations.invitation_resend", org_id=org_id, invitation_id=inv_id
        ),
        "revoke": url_for(
            "invitations.invitation_revoke", org_id=org_id, invitation_id=inv_id
        ),
    }


@bp.route("/orgs/<id:org_id>/roles")
def role_list(org_id: int) -> ResponseReturnValue:
    """The members and their roles, found by email and role; owners also get the
    form to assign roles. A malformed search is 400, with the field's message."""
    organization = load_organization(org_id)
    authorize("LIST_ROLES", organization)
    search = MemberSearchForm()
    status = 200 if search.validate() else 400
    return _render_roles(organization, InviteForm(), search, status=status)


@bp.route("/orgs/<id:org_id>/roles", methods=["POST"])
def role_create(org_id: int) -> ResponseReturnValue:
    """Invite someone by email (portal.domain.invitations): the same answer
    whether or not the email has an account; an email that holds a role here is
    refused (409) and nothing changes (their role changes on their page)."""
    organization = load_organization(org_id)
    authorize("CREATE_ROLE", organization)
    form = InviteForm()
    if not form.validate():
        return _render_roles(organization, form, status=422)
    org_id, session = organization.id, db.get_session()
    invite = partial(
        invitations.invite,
        session,
        organization,
        text(form.user_email),
        text(form.name),
        actor=_actor(),
        link=invitation_link,
        names=words(),
        role_expires=form.role_expires,
    )
    try:
        with db.transaction(session):
            sent = invite()
            email = sent.invitation.email
    except roles.RoleError as error:
        return _refused(organization, form, error)
    current_app.logger.info(
        "invitation sent: org=%s actor=%s resent=%s", org_id, _actor().id, sent.resent
    )
    location = url_for("members.role_list", org_id=org_id)
    return done(invitation_sent(email), location)


def invitation_sent(email: str) -> str:
    """The one answer to an invitation, whoever the email belongs to."""
    return (
        f"Invitation sent to {email}. The link in it works for 7 days; it is"
        " listed under Pending invitations until then."
    )


def _commit(change: Callable[[], roles.RoleChange]) -> roles.RoleChange:
    """Run change in one transaction and log it once committed (RoleError: refused,
    nothing changed)."""
    with db.transaction(db.get_session()):
        made = change()
    # Logged once committed: a line here means the change is in the database.
    current_app.logger.info(
        "role changed: org=%s user=%s actor=%s old=%s new=%s",
        made.organization_id,
        made.user_id,
        made.actor_id,
        made.old,
        made.new,
    )
    return made


def _access(organization: Organization) -> AccessModel:
    """What the policy grants each role in organization (computed at start-up),
    in the app's words."""
    return access_model(get_oso(), organization, words())


def _what_changed(
    access: AccessModel, made: roles.RoleChange, organization_name: str = ""
) -> str:
    """The message of a role change in words: the person, their new role, what
    they can now do and can no longer do ("ringo@beatles.com is now a Billing
    manager. They can now see the billing details; they can no longer see the
    repositories or see who is here."). organization_name: where a removal was
    made. A change of one's own role speaks to them ("You are now a Member.")."""
    said = access.words
    gained, lost = access.change(made.old, made.new)
    if made.new is None:
        where = full_stop(organization_name)
        first = f"{made.user_email} no longer has a role in {where}"
    elif not gained and not lost:
        return made.say(said)  # the policy gives the two roles the same
    elif made.actor_id == made.user_id:
        first = f"You are now {said.a_role(made.new)}{made.until}."
    else:
        first = f"{made.user_email} is now {said.a_role(made.new)}{made.until}."
    they = "you" if made.actor_id == made.user_id else "they"
    parts = [
        f"{they} can {when} {_joined(said, codes, last)}"
        for when, codes, last in (("now", gained, "and"), ("no longer", lost, "or"))
        if codes
    ]
    if not parts:  # a removal the policy gave nothing to lose
        return first
    rest = "; ".join(parts)
    return f"{first} {rest[:1].upper()}{rest[1:]}."


def _joined(said: Words, permissions: Sequence[str], last: str) -> str:
    """Permissions as a sentence says them: "see the repositories or see who is
    here"."""
    phrases = [said.permission(code).in_a_sentence for code in permissions]
    return joined(phrases, last)


def _actor() -> User:
    """The signed-in user, who acts in a role change."""
    actor: User = current_user._get_current_object()
    return actor


def _viewer_id() -> int:
    """The signed-in user's id: whose membership is "mine"."""
    viewer_id: int = current_user.id
    return viewer_id


def _refused(
    organization: Organization, form: InviteForm, error: roles.RoleError
) -> ResponseReturnValue:
    """The role page again, with the reason next to the email field."""
    _log_refusal(organization, error)
    form.user_email.errors = [*form.user_email.errors, refusal(error, organization)]
    return _render_roles(organization, form, status=error.status)


def _render_roles(
    organization: Organization,
    form: InviteForm,
    search: MemberSearchForm | None = None,
    status: int = 200,
) -> Response:
    """The role page, at status.

    Without a validated search (a POST re-rendering the page), the query
    string's is read and validated here. An invalid search lists nobody.
    """
    if search is None:
        search = MemberSearchForm()
        search.validate()
    pending = pending_invitations(organization)
    members: Page[OrganizationRole] | None = None
    if not search.errors:
        members = page_of(
            member_search.members_matching(
                organization.id, search.q.data or "", search.role.data or ""
            )
        )
        # The row controls: what the viewer may do to each row shown, asked of
        # the policy for the whole page at once (the template's can() per row).
        decide_rows(members.items)
    counts = member_search.role_counts(db.get_session(), organization.id)
    rows = member_rows(organization, members, counts)
    page = RolesPage(
        organization,
        members,
        counts,
        search,
        form,
        pending,
        InvitationActionForm(),
        rows,
    )
    return render(page, status)


#: Pending invitations per page of the roles page.
INVITATIONS_PER_PAGE = 20
#: The query parameter of their page (the members' is "page").
INVITATIONS_PAGE = "invitations_page"


def pending_invitations(organization: Organization) -> Page[Invitation] | None:
    """A page of organization's pending invitations (one query; None if the
    viewer may not invite). Expired ones are retired first, audited, when
    there are any (portal.domain.invitations)."""
    if not can("CREATE_ROLE", organization):
        return None
    session = db.get_session()
    if invitations.has_expired(session, organization.id):
        with writing() as writer:
            invitations.retire_expired(writer, organization.id)
    try:
        number = paging.page_number(request.args.getlist(INVITATIONS_PAGE))
        return paging.paginate(
            session,
            invitations.pending_in(organization.id),
            number,
            INVITATIONS_PER_PAGE,
        )
    except paging.ListQueryError as error:
        abort(400, description=str(error))
    except paging.PageOutOfRange as error:
        abort(404, description=str(error))


def member_rows(
    organization: Organization,
    members: Page[OrganizationRole] | None,
    counts: RoleCounts,
) -> list[Membership]:
    """The memberships of the members shown, from one count of the owners whose
    role never expires (no query per row)."""
    if members is None:
        return []
    # The owners the last-owner rule counts: those whose role never expires.
    owners = roles.count_owners(db.get_session(), organization)
    viewer_id = _viewer_id()
    return [
        Membership(role, organization, owners, viewer_id, words())
        for role in members.items
    ]


# --- one member: the page, changing and removing the role, leaving -------------


def member_page_json(membership: Membership, access: AccessModel) -> Body:
    """What every member page says of the member: their role, what it lets them do
    and why, and what the viewer may do about it."""
    role = membership.role
    may_change, may_remove = can("UPDATE", role), can("DELETE", role)
    return {
        "organization": organization_json(membership.organization),
        "member": member_json(role),
        "yours": membership.is_mine,
        # Codes (the API's names), and why in words for whoever reads it.
        "permissions": [
            {
                "name": permission.code,
                "reason": permission.reason,
                "granted_to": list(permission.granted_to),
                "through": permission.through,
            }
            for permission in access.explain(role.name)
        ],
        "may_change": may_change,
        "may_remove": may_remove,
        # Why a control is disabled: the page says it next to the control, so
        # only to whoever it shows the control to.
        "change_refused": membership.change_refused if may_change else None,
        "removal_refused": membership.removal_refused if may_remove else None,
        # What the change and remove forms carry, to send back with either: a
        # change or removal for another role row than this one is refused (409).
        "form": (
            {"current": role.name, "current_id": str(role.id)}
            if may_change or may_remove
            else None
        ),
    }


@dataclass(frozen=True)
class MemberPage(PageView):
    """One member: their role, what it lets them do and why, and the change and
    remove controls the viewer may use."""

    template = "orgs/member.html"
    organization: Organization
    membership: Membership
    access: AccessModel
    form: MemberRoleForm
    error: str | None = None

    def json(self) -> Body:
        """The member, their permissions explained, what the viewer may do."""
        return member_page_json(self.membership, self.access)


@dataclass(frozen=True)
class RemovalPage(PageView):
    """The confirmation of a removal (or of leaving): exactly what they lose."""

    template = "orgs/member_delete.html"
    organization: Organization
    membership: Membership
    access: AccessModel
    lost: Sequence[str]
    form: RemoveForm
    error: str | None = None

    def json(self) -> Body:
        """The member page's JSON and the permissions the removal takes away."""
        page = member_page_json(self.membership, self.access)
        return {**page, "loses": list(self.lost)}


@dataclass(frozen=True)
class ConfirmationPage(PageView):
    """Asks an owner to confirm a change of their own role that takes access away."""

    template = "orgs/member_confirm.html"
    organization: Organization
    membership: Membership
    access: AccessModel
    form: MemberRoleForm
    gained: Sequence[str]
    lost: Sequence[str]

    def json(self) -> Body:
        """The confirmation as its page's form makes it: what to POST where (the
        member's URL, whichever form asked: the assign form has no confirm field)."""
        role = self.membership.role
        url = url_for(
            "members.member_update", org_id=role.organization_id, user_id=role.user_id
        )
        send = {
            "name": self.form.name.data,
            "current": role.name,
            "current_id": str(role.id),
            "confirm": "yes",
        }
        if self.form.expires.raw_data:  # the expiry asked for with the change
            send["expires"] = self.form.expires.data or ""
        return {
            **member_page_json(self.membership, self.access),
            "status": 409,
            "message": (
                "This change takes access away from you: to make it, POST"
                f' {{"name": "{send["name"]}", "current": "{send["current"]}",'
                f' "current_id": "{send["current_id"]}", "confirm": "yes"}} to {url}.'
            ),
            "confirm": {"url": url, "body": send},
            "gains": list(self.gained),
            "loses": list(self.lost),
        }

    def json_status(self, status: int) -> int:
        """409: for a client, a change that is asked about is a change not made."""
        return 409


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
    """Change a member's role; the answer says what they gained and lost. Changing
    one's own role so that it loses access asks for confirmation first."""
    organization = load_organization(org_id)
    member = _find_member(organization, user_id)
    authorize("UPDATE", member)
    form = MemberRoleForm()
    if not form.validate():
        return _render_member(organization, member, form, status=422)
    if not form.is_for(member):
        stale = _stale(member, form.current.data)
        return _render_member(organization, member, form, stale, status=409)
    name = text(form.name)
    if not form.confirmed:
        confirmation = _confirmation(organization, member, name, form)
        if confirmation is not None:
            return confirmation
    return _apply_member_change(organization, member, form, name)


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
    if not form.is_for(member):
        stale = _stale(member, form.current.data)
        return _render_removal(organization, member, form, stale, status=409)
    return _apply_removal(organization, member, form)


def _find_member(organization: Organization, user_id: int) -> OrganizationRole:
    """The role user_id holds in organization, or 404, looked up as the viewer may.

    Looking someone else up is reading the organization's member list
    (LIST_ROLES), asked before the lookup: otherwise whoever may only read the
    organization (BILLING) could tell members from strangers by the two 404s.
    One's own role needs the organization's READ only (the policy lets everyone
    read and give up their own role).
    """
    authorize("READ" if user_id == _viewer_id() else "LIST_ROLES", organization)
    return load_member(organization, user_id)


def _membership(organization: Organization, member: OrganizationRole) -> Membership:
    """member's membership as the signed-in user sees it (one count of owners),
    its refusals in words."""
    session = db.get_session()
    return membership_of(session, organization, member, _viewer_id(), words())


def _stale(member: OrganizationRole, shown: str | None = None) -> str:
    """Why a form rendered for another role row than member's current one is
    refused (shown: the role name the form was rendered for)."""
    now = words().a_role(member.name)
    if shown == member.name:  # the same name on another row: removed, then re-added
        return (
            f"{member.user.email} was removed and made {now} again while you were"
            " looking. Check it and try again."
        )
    return (
        f"{member.user.email} was made {now} while you were looking. Check it and"
        " try again."
    )


def _confirmation(
    organization: Organization,
    member: OrganizationRole,
    name: str,
    form: MemberRoleForm,
) -> Response | None:
    """The confirmation page, if changing member's role to name is a change the
    signed-in user makes to their own role, that takes something away from them and
    that the data allows; else None (go ahead).

    The one confirmation path of both forms that change a role. A change the data
    refuses (the last owner's) is refused straight away instead of after a
    confirmation.
    """
    access = _access(organization)
    gained, lost = access.change(member.name, name)
    if member.user_id != _viewer_id() or not lost:
        return None
    membership = _membership(organization, member)
    if membership.change_refusal is not None:
        return None
    page = ConfirmationPage(organization, membership, access, form, gained, lost)
    return render(page)


def _apply_member_change(
    organization: Organization,
    member: OrganizationRole,
    form: MemberRoleForm,
    name: str,
) -> ResponseReturnValue:
    """Change member's role to name; then their page, with what changed."""
    org_id, user_id = organization.id, member.user_id  # before the commit expires
    access = _access(organization)
    change = partial(
        roles.reassign_user_role, db.get_session(), organization, member.user, name
    )
    try:
        made = _commit(partial(change, actor=_actor(), expires=form.wanted_expiry))
    except roles.RoleError as error:
        _log_refusal(organization, error)
        return _render_member(
            organization,
            member,
            form,
            refusal(error, organization),
            status=error.status,
        )
    location = form.back_to(url_for("members.role_list", org_id=org_id))
    if location is None:
        location = url_for("members.member_show", org_id=org_id, user_id=user_id)
    return done(_what_changed(access, made), location)


def _apply_removal(
    organization: Organization, member: OrganizationRole, form: RemoveForm
) -> ResponseReturnValue:
    """Take member's role away: leaving goes to the organization list, removing
    someone else back to the roles page."""
    org_id, org_name = organization.id, organization.name  # before the commit
    leaving, access = member.user_id == _viewer_id(), _access(organization)
    change = partial(roles.delete_user_role, db.get_session(), organization)
    try:
        made = _commit(partial(change, member.user, actor=_actor()))
    except roles.RoleError as error:
        _log_refusal(organization, error)
        return _render_removal(
            organization,
            member,
            form,
            refusal(error, organization),
            status=error.status,
        )
    if leaving:
        return done(
            f"You left {full_stop(org_name)}", url_for("orgs.organization_list")
        )
    message = _what_changed(access, made, org_name)
    return done(message, url_for("members.role_list", org_id=org_id))


def _log_refusal(organization: Organization, error: roles.RoleError) -> None:
    """Log a refused change: where, by whom, and which rule refused it."""
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
    """The member page; form re-rendered for the role member holds now, with
    that role chosen unless another one was (sending it as it is changes
    nothing, and is refused)."""
    form.show(member)
    form.name.choices = change_choices()
    if form.name.data not in ROLE_NAMES:
        form.name.data = member.name
    if not form.expires.raw_data:  # drawn with the role's expiry (blank: never)
        form.expires.data = expiry.field_value(member.expires_at)
    membership = _membership(organization, member)
    access = _access(organization)
    return render(MemberPage(organization, membership, access, form, error), status)


def change_choices() -> list[SelectChoice]:
    """The change form's options: every role, by its plain name (the page draws
    them with the member's own chosen and each role's description)."""
    return [SelectChoice(name, words().role(name).name) for name in ROLE_NAMES]


def _render_removal(
    organization: Organization,
    member: OrganizationRole,
    form: RemoveForm,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The confirmation page of a removal (or leaving): exactly what they lose."""
    form.show(member)
    access = _access(organization)
    lost = access.change(member.name, None)[1]
    membership = _membership(organization, member)
    page = RemovalPage(organization, membership, access, lost, form, error)
    return render(page, status)
