"""Invitations on the web: the page a mailed link opens, and the roles page's
Resend and Revoke buttons.

``/invitations/<token>`` is public: the token (256 random bits, single use) is
what lets its holder in, as a password-reset link is. What the page offers
depends on who opens it (portal.domain.invitations decides nothing about
people from the request):

- the invited email has no account: set a password (the password page's own
  fields and rules); the account is created and logged in with the role;
- it has one and nobody is logged in: log in as that email first;
- it has one, and its owner is logged in: Accept or Decline;
- someone else is logged in: a refusal (403) that grants nothing.

A malformed, unknown, used, declined, revoked or expired token gets one page
(404) that does not say which. Resend and Revoke are the organization's
CREATE_ROLE (the policy), like the invitation itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from flask import Blueprint, abort, current_app, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.authz import authorize, words
from portal.domain import invitations
from portal.domain.models import Invitation, Organization, User
from portal.domain.roles import RoleError
from portal.forms import InvitationActionForm, NewAccountForm
from portal.infra import db
from portal.infra.clock import as_utc
from portal.infra.passwords import hash_password
from portal.web.guards import public
from portal.web.invitation_links import invitation_link, writing
from portal.web.loaders import load_organization
from portal.web.negotiation import done, render, to_login
from portal.web.pages import Body, PageView, organization_json
from portal.web.sessions import start_session
from portal.web.wording import full_stop

bp = Blueprint("invitations", __name__)


@bp.app_template_global("invitation_when")
def invitation_when(moment: datetime) -> str:
    """When an invitation expires, in words ("15 December 2026, 01:20 UTC")."""
    return invitations.when(moment)


#: What the page offers (see the module's docstring).
State = Literal["new", "login", "accept", "wrong_user"]


@dataclass(frozen=True)
class InvitationPage(PageView):
    """An invitation as its link shows it: where, as what, from whom, until
    when, and what the visitor can do about it."""

    template = "invitations/show.html"
    invitation: Invitation
    organization: Organization
    state: State
    token: str
    form: NewAccountForm
    action_form: InvitationActionForm
    error: str | None = None

    def json(self) -> Body:
        """The invitation (role: a code), the state, and where to POST."""
        invitation = self.invitation
        return {
            "organization": organization_json(self.organization),
            "email": invitation.email,
            "role": invitation.role,
            "inviter": invitation.inviter_email,
            "expires_at": as_utc(invitation.expires_at).isoformat(),
            "state": self.state,
            # new: POST new_password and confirm; accept: POST nothing.
            "accept": url_for("invitations.invitation_accept", token=self.token),
            "decline": url_for("invitations.invitation_decline", token=self.token),
        }


@dataclass(frozen=True)
class LinkRefusedPage(PageView):
    """The one answer to a link that does not work, whatever the reason."""

    template = "invitations/refused.html"
    message: str = invitations.LINK_REFUSED


def _refused_link(token: str) -> Response:
    """404, the same page for every reason; an expired invitation is retired
    (audited) by the first request that sees it."""
    with writing() as session:
        invitations.retire_if_expired(session, token)
    return render(LinkRefusedPage(), 404)


def _viewer() -> User | None:
    """The signed-in user (None: nobody)."""
    if not current_user.is_authenticated:
        return None
    user: User = current_user._get_current_object()
    return user


def _state(invitation: Invitation, has_account: bool) -> State:
    """What the page offers the visitor."""
    viewer = _viewer()
    if viewer is not None:
        return "accept" if viewer.email == invitation.email else "wrong_user"
    return "login" if has_account else "new"


def _page(
    invitation: Invitation,
    token: str,
    form: NewAccountForm | None = None,
    error: str | None = None,
    status: int | None = None,
) -> Response:
    """The invitation page for the visitor (403 for someone else logged in)."""
    session = db.get_session()
    has_account = invitations.account_for(session, invitation) is not None
    state = _state(invitation, has_account)
    organization = session.get(Organization, invitation.organization_id)
    assert organization is not None  # the invitation's foreign key
    page = InvitationPage(
        invitation,
        organization,
        state,
        token,
        form or NewAccountForm(),
        InvitationActionForm(),
        error or (_WRONG_USER if state == "wrong_user" else None),
    )
    if status is None:
        status = 403 if state == "wrong_user" else 200
    return render(page, status)


_WRONG_USER = (
    "This invitation is for someone else: it gives you nothing. If it was sent"
    " to another address of yours, log out, open the link again and log in with"
    " that address (or set a password for it)."
)


@bp.route("/invitations/<token>")
@public
def invitation_show(token: str) -> ResponseReturnValue:
    """The invitation: set a password, log in, or accept or decline."""
    invitation = invitations.find(db.get_session(), token)
    if invitation is None:
        return _refused_link(token)
    return _page(invitation, token)


@bp.route("/invitations/<token>", methods=["POST"])
@public
def invitation_accept(token: str) -> ResponseReturnValue:
    """Accept: as a new person with a password, or as the invited account."""
    session = db.get_session()
    invitation = invitations.find(session, token)
    if invitation is None:
        return _refused_link(token)
    has_account = invitations.account_for(session, invitation) is not None
    state = _state(invitation, has_account)
    if state == "login":
        return to_login(url_for("auth.login", next=_here(token)))
    if state == "wrong_user":
        return _page(invitation, token)
    if state == "new":
        form = NewAccountForm()
        if not form.validate():
            return _page(invitation, token, form, status=422)
        session.rollback()  # no lock held while the deliberately slow hash runs
        # The password page's own fields: a validated string (class attributes
        # shared with PasswordForm, so read through the form's data).
        password: str = form.data["new_password"]
        return _accept_as_new(token, hash_password(password))
    viewer = _viewer()
    assert viewer is not None  # state "accept"
    action = InvitationActionForm()
    if not action.validate():
        return _page(invitation, token, status=422)
    try:
        with db.transaction(session):
            role, organization = invitations.accept(session, token, viewer)
            org_id, name, role_name = organization.id, organization.name, role.name
    except RoleError as error:
        return _refusal(token, error)
    _log("accepted", org_id)
    return done(
        _welcome(name, role_name), url_for("orgs.organization_show", org_id=org_id)
    )


def _accept_as_new(token: str, password_hash: str) -> Response:
    """Create the account, give it the role, log it in."""
    session = db.get_session()
    try:
        with db.transaction(session):
            user, role, organization = invitations.accept_as_new(
                session, token, password_hash
            )
            org_id, name, role_name = organization.id, organization.name, role.name
    except RoleError as error:
        return _refusal(token, error)
    start_session(user)
    _log("accepted by a new account", org_id)
    return done(
        _welcome(name, role_name), url_for("orgs.organization_show", org_id=org_id)
    )


@bp.route("/invitations/<token>/decline", methods=["POST"])
@public
def invitation_decline(token: str) -> ResponseReturnValue:
    """Turn the invitation down: the link stops working, nothing is granted."""
    session = db.get_session()
    invitation = invitations.find(session, token)
    if invitation is None:
        return _refused_link(token)
    has_account = invitations.account_for(session, invitation) is not None
    state = _state(invitation, has_account)
    if state == "login":
        return to_login(url_for("auth.login", next=_here(token)))
    if state == "wrong_user":
        return _page(invitation, token)
    if not InvitationActionForm().validate():
        return _page(invitation, token, status=422)
    try:
        with db.transaction(session):
            declined = invitations.decline(session, token, _viewer())
            org_id, name = declined.organization_id, declined.organization.name
    except RoleError as error:
        return _refusal(token, error)
    _log("declined", org_id)
    target = url_for("orgs.organization_list" if _viewer() else "auth.login")
    return done(f"You declined the invitation to {full_stop(name)}", target, "info")


def _here(token: str) -> str:
    """The invitation page's path (the login's ``next``)."""
    return url_for("invitations.invitation_show", token=token)


def _welcome(organization_name: str, role: str) -> str:
    """The answer to an accepted invitation."""
    return f"Welcome to {organization_name}: you are now {words().a_role(role)} there."


def _refusal(token: str, error: RoleError) -> Response:
    """The page again with why the change was refused (gone: the refused link)."""
    if isinstance(error, invitations.InvitationGone):
        return render(LinkRefusedPage(), 404)
    invitation = invitations.find(db.get_session(), token)
    if invitation is None:
        return render(LinkRefusedPage(), 404)
    return _page(invitation, token, error=error.say(words()), status=error.status)


def _log(what: str, org_id: int) -> None:
    """Log an invitation's outcome (the email stays out of the logs)."""
    current_app.logger.info("invitation %s: org=%s", what, org_id)


# --- the roles page's buttons: Resend and Revoke ------------------------------


@bp.route("/orgs/<id:org_id>/invitations/<id:invitation_id>/resend", methods=["POST"])
def invitation_resend(org_id: int, invitation_id: int) -> ResponseReturnValue:
    """Send a pending invitation again: a new link for 7 more days; the old
    link stops working."""
    organization = load_organization(org_id)
    authorize("CREATE_ROLE", organization)
    if not InvitationActionForm().validate():
        abort(422, description="This form is out of date. Reload the page.")
    actor = _viewer()
    session = db.get_session()
    try:
        with db.transaction(session):
            sent = invitations.resend(
                session,
                organization,
                invitation_id,
                actor=actor,
                link=invitation_link,
                names=words(),
            )
            email = sent.invitation.email
    except invitations.InvitationGone:
        abort(404, description=_NOT_PENDING)
    _log("sent again", org_id)
    message = f"Invitation sent again to {email}. The link sent before no longer works."
    return done(message, url_for("members.role_list", org_id=org_id))


@bp.route("/orgs/<id:org_id>/invitations/<id:invitation_id>/revoke", methods=["POST"])
def invitation_revoke(org_id: int, invitation_id: int) -> ResponseReturnValue:
    """Withdraw a pending invitation: its link stops working."""
    organization = load_organization(org_id)
    authorize("CREATE_ROLE", organization)
    if not InvitationActionForm().validate():
        abort(422, description="This form is out of date. Reload the page.")
    session = db.get_session()
    try:
        with db.transaction(session):
            revoked = invitations.revoke(
                session, organization, invitation_id, actor=_viewer()
            )
            email = revoked.email
    except invitations.InvitationGone:
        abort(404, description=_NOT_PENDING)
    _log("revoked", org_id)
    message = f"Invitation to {email} withdrawn: its link no longer works."
    return done(message, url_for("members.role_list", org_id=org_id))


_NOT_PENDING = (
    "That invitation is no longer pending: it was accepted, declined, withdrawn"
    " or has expired."
)
