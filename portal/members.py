"""Role management: the members of an organization and the form to assign roles.

Every view follows the same order on consecutive lines: load the resource (404 if
it does not exist), authorize, act, render. Changes go through portal.roles inside
``db.transaction``; a refused change (RoleError) comes back as a form error with
the status the error carries.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal import db, member_search, roles
from portal.authz import authorize
from portal.forms import MemberSearchForm, RoleForm, text
from portal.loaders import load_organization, page_of
from portal.models import Organization, OrganizationRole, User
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
    return _render_roles(organization, RoleForm(), search), status


@bp.route("/orgs/<id:org_id>/roles", methods=["POST"])
def role_create(org_id: int) -> ResponseReturnValue:
    """Assign a role to a user by email, or change the one they have (the guide's
    add-or-reassign)."""
    organization = load_organization(org_id)
    authorize("CREATE_ROLE", organization)
    form = RoleForm()
    if not form.validate():
        return _render_roles(organization, form), 422
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
    change = partial(
        roles.reassign_user_role, session, organization, user, text(form.name)
    )
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
    try:
        with db.transaction(db.get_session()):
            done = change()
    except roles.RoleError as error:
        return _refused(organization, form, error)
    # Logged once committed: a line here means the change is in the database.
    current_app.logger.info(
        "role changed: org=%s user=%s actor=%s old=%s new=%s",
        done.organization_id,
        done.user_id,
        done.actor_id,
        done.old,
        done.new,
    )
    flash(str(done), "success")
    return redirect(url_for("members.role_list", org_id=org_id))


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
    return _render_roles(organization, form), error.status


def _render_roles(
    organization: Organization, form: RoleForm, search: MemberSearchForm | None = None
) -> str:
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
    return render_template(
        "orgs/roles.html",
        organization=organization,
        members=members,
        counts=counts,
        search=search,
        form=form,
    )
