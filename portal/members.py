"""Role management: the members of an organization and the form to assign roles.

Every view follows the same order on consecutive lines: load the resource (404 if
it does not exist), authorize, act, render.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal import db, roles
from portal.authz import authorize
from portal.forms import RoleForm
from portal.models import Organization, OrganizationRole, User
from portal.views import load_organization

bp = Blueprint("members", __name__)

# RoleError -> HTTP status of the page that shows it: the request was well-formed
# but names something that does not fit (422), or conflicts with the current
# members (409).
_ROLE_ERROR_STATUS: dict[type[roles.RoleError], int] = {
    roles.UnknownRoleName: 422,
    roles.NoSuchUser: 422,
    roles.AlreadyHasRole: 409,
    roles.NotAMember: 409,
    roles.LastOwner: 409,
}


@bp.route("/orgs/<id:org_id>/roles")
def role_list(org_id: int) -> str:
    """The members and their roles; owners also get the form to assign roles."""
    organization = load_organization(org_id)
    authorize("LIST_ROLES", organization)
    return _render_roles(organization, RoleForm())


@bp.route("/orgs/<id:org_id>/roles", methods=["POST"])
def role_create(org_id: int) -> Response | tuple[str, int]:
    """Assign a role to a user by email, or change the one they have."""
    organization = load_organization(org_id)
    authorize("CREATE_ROLE", organization)
    form = RoleForm()
    if not form.validate():
        return _render_roles(organization, form), 422
    session = db.get_session()
    try:
        user = roles.find_user(session, form.user_email.data)
        if roles.user_role(session, organization, user) is not None:
            authorize("UPDATE_ROLE", organization)
        change = roles.assign_role(session, organization, user, form.name.data)
    except roles.RoleError as error:
        form.user_email.errors.append(str(error))
        return _render_roles(organization, form), _ROLE_ERROR_STATUS[type(error)]
    flash(str(change), "success")
    # org_id, not organization.id: the commit expired the object, and reloading
    # it would start another (writer) transaction just to build a URL.
    return redirect(url_for("members.role_list", org_id=org_id))


def _render_roles(organization: Organization, form: RoleForm) -> str:
    """The role page: members by email, and the form (shown only to owners)."""
    members = (
        db.get_session()
        .execute(
            select(User.email, OrganizationRole.name)
            .join(OrganizationRole, OrganizationRole.user_id == User.id)
            .where(OrganizationRole.organization_id == organization.id)
            .order_by(User.email)
        )
        .all()
    )
    return render_template(
        "orgs/roles.html", organization=organization, members=members, form=form
    )
