"""The header's organization switcher: the organizations the signed-in user can
READ, by name, at most SWITCHER_SIZE of them, on every page.

The list is the policy's (``readable_rows("READ", Organization)``, the same SQL
filter as the organization list), run once per request and remembered on
``flask.g`` however many times a template asks. On a cold cache the filter costs
one Oso query, shared with /orgs' own list; warm, none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import g
from flask_login import current_user
from sqlalchemy import Select

from portal.authz import readable_rows
from portal.domain.models import Organization
from portal.infra import db

# How many organizations the switcher lists; past that it links to /orgs.
SWITCHER_SIZE = 10


@dataclass(frozen=True)
class Switcher:
    """What the switcher shows: the first organizations, and whether there are
    more than those."""

    organizations: Sequence[Organization]
    more: bool


def switcher_of(statement: Select[Any]) -> Switcher:
    """The switcher for a select() of organizations: the first SWITCHER_SIZE by
    name, then id, and whether it finds more (one query, one row over)."""
    rows = (
        db.get_session()
        .scalars(
            statement.order_by(Organization.name, Organization.id).limit(
                SWITCHER_SIZE + 1
            )
        )
        .all()
    )
    return Switcher(organizations=rows[:SWITCHER_SIZE], more=len(rows) > SWITCHER_SIZE)


def organization_switcher() -> Switcher | None:
    """The signed-in user's switcher for this request (None for a guest)."""
    if not current_user.is_authenticated:
        return None
    if "org_switcher" not in g:
        g.org_switcher = switcher_of(readable_rows("READ", Organization))
    switcher: Switcher = g.org_switcher
    return switcher
