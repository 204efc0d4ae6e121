"""Organization pages: the list, the overview, repositories and billing.

Every view follows the same order on consecutive lines: load the resource (404 if
it does not exist), authorize, act, render. Templates ask ``can()`` to show or hide
controls; both answers come from one memoized Oso query per organization. Each
page's data and its JSON are the page class just above its view.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal.authz import access, authorize, authorized, can, words
from portal.domain.membership import Membership, find_membership
from portal.domain.models import Organization, Repository
from portal.domain.paging import Page
from portal.infra import db
from portal.web.guards import public
from portal.web.loaders import load_organization, page_of
from portal.web.negotiation import render
from portal.web.pages import Body, PageView, organization_json, paging_json

bp = Blueprint("orgs", __name__)


@bp.route("/")
@public
def index() -> ResponseReturnValue:
    """Send people to their organizations (anonymous users then go to login)."""
    return redirect(url_for("orgs.organization_list"))


@dataclass(frozen=True)
class OrganizationListPage(PageView):
    """The organizations the user can read, a page at a time."""

    template = "orgs/list.html"
    organizations: Page[Organization]

    def json(self) -> Body:
        """``{"orgs": [...], "paging": {...}}``."""
        return {
            "orgs": [organization_json(org) for org in self.organizations.items],
            "paging": paging_json(self.organizations),
        }


@bp.route("/orgs")
def organization_list() -> ResponseReturnValue:
    """The organizations the user can READ, a page at a time."""
    organizations = page_of(
        authorized("READ", Organization).order_by(Organization.name, Organization.id)
    )
    return render(OrganizationListPage(organizations))


@dataclass(frozen=True)
class OrganizationShowPage(PageView):
    """The overview: the viewer's role, the sections they may open, and leaving."""

    template = "orgs/show.html"
    organization: Organization
    membership: Membership | None  # None: no role row of their own here

    def json(self) -> Body:
        """The organization, the viewer's role and what they may do in it."""
        org = self.organization
        return {
            "organization": organization_json(org),
            "role": None if self.membership is None else self.membership.role.name,
            "permissions": [name for name in access(org).permissions if can(name, org)],
        }


@bp.route("/orgs/<id:org_id>")
def organization_show(org_id: int) -> ResponseReturnValue:
    """An organization's overview, with links to what the user may open."""
    organization = load_organization(org_id)
    authorize("READ", organization)
    # Whether they may leave is the policy's answer about this row (the page asks
    # can("DELETE", ...)); reading the organization does not imply holding one.
    mine = find_membership(
        db.get_session(),
        organization,
        current_user.id,
        viewer_id=current_user.id,
        names=words(),  # the "last owner" refusal in words
    )
    return render(OrganizationShowPage(organization, mine))


@dataclass(frozen=True)
class RepositoryListPage(PageView):
    """The organization's repositories the user can read, a page at a time."""

    template = "orgs/repos.html"
    organization: Organization
    repositories: Page[Repository]

    def json(self) -> Body:
        """``{"organization", "repos": [...], "paging"}``."""
        return {
            "organization": organization_json(self.organization),
            "repos": [
                {"id": repo.id, "name": repo.name} for repo in self.repositories.items
            ],
            "paging": paging_json(self.repositories),
        }


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
    return render(RepositoryListPage(organization, repositories))


@dataclass(frozen=True)
class BillingPage(PageView):
    """The organization's billing details."""

    template = "orgs/billing.html"
    organization: Organization

    def json(self) -> Body:
        """The organization and its billing address."""
        return {
            "organization": organization_json(self.organization),
            "billing_address": self.organization.billing_address,
        }


@bp.route("/orgs/<id:org_id>/billing")
def billing_show(org_id: int) -> ResponseReturnValue:
    """The organization's billing details."""
    organization = load_organization(org_id)
    authorize("READ_BILLING", organization)
    return render(BillingPage(organization))
