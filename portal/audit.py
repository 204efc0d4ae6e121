"""The audit trail: an organization's role changes, newest first.

The entries are written by portal.roles, in the transaction of each change; this
module only shows them. The view follows the house order on consecutive lines:
load, authorize, act (read a page), render.
"""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from portal.authz import authorize
from portal.loaders import load_organization, page_of
from portal.models import AuditEntry
from portal.negotiation import render

bp = Blueprint("audit", __name__)


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
    return render("orgs/audit.html", organization=organization, entries=entries)
