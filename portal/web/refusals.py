"""Refusals that say what to do next, and link to where it is done.

A refused role change (a portal.domain.roles.RoleError) is a sentence for the
user: JSON says it as plain text. A page can do more: the last owner's refusal
("make someone else an owner first") links to the page where that is done, to
whoever may open it (the policy is asked, from the request's memo: no new Oso
query on a page that has authorized on the organization).

The next steps are kept here, by error type, rather than on the domain's errors:
which page does what is the web's knowledge, not the domain's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import request, url_for

from portal.authz import can
from portal.domain import roles
from portal.domain.models import Organization


@dataclass(frozen=True)
class NextStep:
    """What to do about a refusal: a label, the page where it is done (an endpoint
    taking ``org_id``) and the organization permission that guards that page."""

    label: str
    endpoint: str
    permission: str


@dataclass(frozen=True)
class Link:
    """A next step the viewer may take: its label and URL."""

    label: str
    url: str


_NEXT_STEPS: dict[type[roles.RoleError], NextStep] = {
    roles.LastOwner: NextStep(
        "Make someone else an owner", "members.role_list", "LIST_ROLES"
    ),
}


class Refusal(str):
    """A refusal's message, the plain text JSON says, carrying the link to its
    next step (None: none, or not one the viewer may take) for a page to show.

    A str, so that every place that shows or serializes a message takes it
    unchanged; templates read ``next_step`` (the error summary macro does).
    """

    next_step: Link | None

    def __new__(cls, message: str, next_step: Link | None = None) -> Refusal:
        """message, with its next step."""
        refusal = super().__new__(cls, message)
        refusal.next_step = next_step
        return refusal


def next_step(
    error: roles.RoleError | None,
    organization: Organization,
    may: Callable[[str, Organization], bool] = can,
) -> Link | None:
    """The link to what to do about error in organization, if there is a next
    step for it that the signed-in user may take (may: the policy's answer;
    bench/run.py's control passes its own table)."""
    step = _NEXT_STEPS.get(type(error)) if error is not None else None
    if step is None or not may(step.permission, organization):
        return None
    url = url_for(step.endpoint, org_id=organization.id)
    if url == request.path:
        return None  # already there (the roles page's own form refused it)
    return Link(step.label, url)


def refusal(error: roles.RoleError, organization: Organization) -> Refusal:
    """error's message with its next step in organization."""
    return Refusal(str(error), next_step(error, organization))
