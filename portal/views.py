"""Organization pages: the list, the overview, repositories and billing.

Every view follows the same order on consecutive lines: load the resource (404 if
it does not exist), authorize, act, render. Templates ask ``can()`` to show or hide
controls; both answers come from one memoized Oso query per organization. Each
page's data and its JSON are the page class just above its view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import Blueprint, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal.authz import access, authorize, authorized, can, words
from portal.domain import name_search
from portal.domain.membership import Membership, find_membership
from portal.domain.models import Organization
from portal.domain.overview import Overview, overview_of
from portal.domain.paging import Page
from portal.forms import NameSearchForm, RepositoryForm
from portal.infra import db
from portal.web.guards import public
from portal.web.loaders import load_organization, page_of
from portal.web.negotiation import render
from portal.web.pages import (
    Body,
    PageView,
    entry_json,
    organization_json,
    paging_json,
)
from portal.web.repository_list import RepositoryListPage, readable_repositories

bp = Blueprint("orgs", __name__)


@bp.route("/")
@public
def index() -> ResponseReturnValue:
    """Send people to their organizations (anonymous users then go to login)."""
    return redirect(url_for("orgs.organization_list"))


@dataclass(frozen=True)
class OrganizationListPage(PageView):
    """The organizations the user can read whose name contains the search, a
    page at a time, each with the user's role there."""

    template = "orgs/list.html"
    organizations: Page[Organization] | None  # None: the search is invalid (400)
    roles: Mapping[int, str]  # organization id -> the user's role there
    search: NameSearchForm

    def json(self) -> Body:
        """``{"orgs": [...], "paging": {...}, "search": {"q"}}``; each
        organization with the user's role there (null: none of their own)."""
        organizations = self.organizations
        assert organizations is not None  # an invalid search is a 400: error_json
        term = self.search.term
        return {
            "orgs": [
                {**organization_json(org), "role": self.roles.get(org.id)}
                for org in organizations.items
            ],
            "paging": paging_json(organizations, q=term or None),
            "search": {"q": term},
        }


@bp.route("/orgs")
def organization_list() -> ResponseReturnValue:
    """The organizations the user can READ, found by name, a page at a time, with
    the user's role in each (one query for the page). A malformed search is 400."""
    readable = authorized("READ", Organization)
    search = NameSearchForm()
    if not search.validate():
        return render(OrganizationListPage(None, {}, search), 400)
    organizations = page_of(
        name_search.matching(readable, Organization.name, search.term).order_by(
            Organization.name, Organization.id
        )
    )
    roles = name_search.roles_in(
        db.get_session(), current_user.id, (org.id for org in organizations.items)
    )
    return render(OrganizationListPage(organizations, roles, search))


@dataclass(frozen=True)
class OrganizationShowPage(PageView):
    """The overview: the viewer's role in words, what they may see of the
    organization at a glance (counts, owners, billing address, latest changes),
    and, out of the way at the bottom, leaving."""

    template = "orgs/show.html"
    organization: Organization
    membership: Membership | None  # None: no role row of their own here
    overview: Overview

    def json(self) -> Body:
        """The organization, the viewer's role and what they may do in it, and
        each piece of the overview (null: one the viewer may not see), with codes
        for roles."""
        org, overview = self.organization, self.overview
        people, owners = overview.people, overview.owners
        return {
            "organization": organization_json(org),
            "role": None if self.membership is None else self.membership.role.name,
            "permissions": [name for name in access(org).permissions if can(name, org)],
            "repositories": None
            if overview.repositories is None
            else {"total": overview.repositories},
            "people": None
            if people is None or owners is None
            else {
                "total": people.total,
                "by_role": dict(people.by_role),
                "owners": list(owners.emails),
                "more_owners": owners.more,
            },
            "billing_address": org.billing_address
            if can("READ_BILLING", org)
            else None,
            "latest_changes": None
            if overview.changes is None
            else [entry_json(entry) for entry in overview.changes],
            "leave": self._leave(),
        }

    def _leave(self) -> Body | None:
        """Where to leave (the confirmation page) and why it is refused, if the
        viewer holds a role here they may give up."""
        mine = self.membership
        if mine is None or not mine.is_mine or not can("DELETE", mine.role):
            return None
        url = url_for(
            "members.member_delete",
            org_id=self.organization.id,
            user_id=mine.role.user_id,
        )
        return {"url": url, "refused": mine.removal_refused}


@bp.route("/orgs/<id:org_id>")
def organization_show(org_id: int) -> ResponseReturnValue:
    """An organization's overview: one's role, and each piece the policy lets one
    see, each read only if so, in one statement."""
    organization = load_organization(org_id)
    authorize("READ", organization)
    # Whether they may leave is the policy's answer about this row (the page asks
    # can("DELETE", ...)); reading the organization does not imply holding one.
    session = db.get_session()
    mine = find_membership(
        session,
        organization,
        current_user.id,
        viewer_id=current_user.id,
        names=words(),  # the "last owner" refusal in words
    )
    # Each piece guarded by the permission of its section's own page (answered
    # from authorize's memo: no new Oso query).
    overview = overview_of(
        session,
        organization.id,
        repositories=can("LIST_REPOS", organization),
        people=can("LIST_ROLES", organization),
        changes=can("READ_AUDIT", organization),
    )
    return render(OrganizationShowPage(organization, mine, overview))


@bp.route("/orgs/<id:org_id>/repos")
def repository_list(org_id: int) -> ResponseReturnValue:
    """The organization's repositories the user can read, found by name, a page at
    a time. A malformed search is 400."""
    organization = load_organization(org_id)
    authorize("LIST_REPOS", organization)
    search = NameSearchForm()
    if not search.validate():
        return render(
            RepositoryListPage(organization, None, search, RepositoryForm()), 400
        )
    repositories = page_of(readable_repositories(organization, search))
    return render(
        RepositoryListPage(organization, repositories, search, RepositoryForm())
    )


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
