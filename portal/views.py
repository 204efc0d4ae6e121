"""Organization pages: the list, the overview, repositories and billing.

Every view follows the same order on consecutive lines: load the resource (404 if
it does not exist), authorize, act, render. Templates ask ``can()`` to show or hide
controls; both answers come from one memoized Oso query per organization.
"""

from __future__ import annotations

from flask import Blueprint, redirect, url_for
from flask.typing import ResponseReturnValue

from portal.authz import authorize, authorized
from portal.guards import public
from portal.loaders import load_organization, page_of
from portal.members import own_membership
from portal.models import Organization, Repository
from portal.negotiation import render

bp = Blueprint("orgs", __name__)


@bp.route("/")
@public
def index() -> ResponseReturnValue:
    """Send people to their organizations (anonymous users then go to login)."""
    return redirect(url_for("orgs.organization_list"))


@bp.route("/orgs")
def organization_list() -> ResponseReturnValue:
    """The organizations the user can READ, a page at a time."""
    organizations = page_of(
        authorized("READ", Organization).order_by(Organization.name, Organization.id)
    )
    return render("orgs/list.html", organizations=organizations)


@bp.route("/orgs/<id:org_id>")
def organization_show(org_id: int) -> ResponseReturnValue:
    """An organization's overview, with links to what the user may open."""
    organization = load_organization(org_id)
    authorize("READ", organization)
    return render(
        "orgs/show.html",
        organization=organization,
        membership=own_membership(organization),
    )


@bp.route("/orgs/<id:org_id>/repos")
def repository_list(org_id: int) -> ResponseReturnValue:
    """The organization's repositories the user can read, a page at a time."""
    organization = load_organization(org_id)
    authorize("LIST_REPOS", organization)
    repositories = page_of(
        authorized("READ", Repository)
        .where(Repository.organization_id == organization.id)
        .order_by(Repository.name, Repository.id)
    )
    return render(
        "orgs/repos.html", organization=organization, repositories=repositories
    )


@bp.route("/orgs/<id:org_id>/billing")
def billing_show(org_id: int) -> ResponseReturnValue:
    """The organization's billing details."""
    organization = load_organization(org_id)
    authorize("READ_BILLING", organization)
    return render("orgs/billing.html", organization=organization)
