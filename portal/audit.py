"""The audit trail: an organization's role changes, newest first (and the changes
to the organization and its repositories).

The entries are written by portal.domain.roles, in the transaction of each change; this
module only shows them. The view follows the house order on consecutive lines:
load, authorize, act (read a page), render.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flask import Blueprint
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from portal.authz import authorize, current_viewer, decide_rows
from portal.domain.models import AuditEntry, Organization, Repository
from portal.domain.paging import Page
from portal.infra import db
from portal.web.loaders import load_organization, page_of
from portal.web.negotiation import render
from portal.web.pages import (
    Body,
    PageView,
    entry_json,
    organization_json,
    paging_json,
)

bp = Blueprint("audit", __name__)


@dataclass(frozen=True)
class AuditPage(PageView):
    """The organization's role changes, newest first, a page at a time; the
    repositories its entries name that still exist, to link to those the viewer
    may READ."""

    template = "orgs/audit.html"
    organization: Organization
    entries: Page[AuditEntry]
    repositories: Mapping[int, Repository]

    def json(self) -> Body:
        """``{"organization", "entries": [...], "paging"}``."""
        return {
            "organization": organization_json(self.organization),
            "entries": [entry_json(entry) for entry in self.entries.items],
            "paging": paging_json(self.entries),
        }


@bp.route("/orgs/<id:org_id>/audit")
def audit_list(org_id: int) -> ResponseReturnValue:
    """Who changed which roles in the organization, and when: 50 entries a page."""
    organization = load_organization(org_id)
    authorize("READ_AUDIT", organization)
    entries = page_of(
        select(AuditEntry)
        .where(AuditEntry.organization_id == organization.id)
        .order_by(AuditEntry.id.desc())
    )
    return render(AuditPage(organization, entries, _repositories(entries.items)))


def _repositories(entries: Sequence[AuditEntry]) -> dict[int, Repository]:
    """The repositories entries name that still exist, by id, with what the viewer
    may do to each decided at once (one query for the rows, at most one Oso query
    for all of them, none when no entry names a repository)."""
    ids = {e.repository_id for e in entries if e.repository_id is not None}
    if not ids:
        return {}
    rows = db.get_session().scalars(select(Repository).where(Repository.id.in_(ids)))
    found = list(rows)
    current_viewer().know_repository_roles(found)
    decide_rows(found)
    return {repository.id: repository for repository in found}
