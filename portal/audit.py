"""The audit trail: an organization's role changes, newest first.

The entries are written by portal.domain.roles, in the transaction of each change; this
module only shows them. The view follows the house order on consecutive lines:
load, authorize, act (read a page), render.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from portal.authz import authorize
from portal.domain.models import AuditEntry, Organization
from portal.domain.paging import Page
from portal.infra.clock import as_utc
from portal.web.loaders import load_organization, page_of
from portal.web.negotiation import render
from portal.web.pages import Body, PageView, organization_json, paging_json

bp = Blueprint("audit", __name__)


@dataclass(frozen=True)
class AuditPage(PageView):
    """The organization's role changes, newest first, a page at a time."""

    template = "orgs/audit.html"
    organization: Organization
    entries: Page[AuditEntry]

    def json(self) -> Body:
        """``{"organization", "entries": [...], "paging"}``."""
        return {
            "organization": organization_json(self.organization),
            "entries": [entry_json(entry) for entry in self.entries.items],
            "paging": paging_json(self.entries),
        }


def entry_json(entry: AuditEntry) -> Body:
    """One audit entry, its time in UTC."""
    return {
        "id": entry.id,
        "at": as_utc(entry.at).isoformat(),
        # None: the command line (flask --app portal assign-role ...)
        "actor": entry.actor_email,
        "user": entry.user_email,
        "action": entry.action,
        "old": entry.old_role,
        "new": entry.new_role,
        # The organization's name before and after (rename; create: new only).
        "old_value": entry.old_value,
        "new_value": entry.new_value,
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
    return render(AuditPage(organization, entries))
