"""What the policy reads, written out by hand: the keys of PortalOso's caches.

A key must hold every value the policy reads to reach an answer, or one user's
answer could be handed to another. This module is a mirror of
``portal/policy.polar`` kept by hand, so it is checked twice: on every cache miss
(PortalOso caches an answer only if Polar read nothing outside the key, see
``portal.authz.recording``), and by tests/test_authz_cache.py (the keys cover
today's policy; cached answers equal uncached ones on random data).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from portal.authz.actors import Viewer
from portal.authz.recording import Read, read_key
from portal.domain.models import Organization, OrganizationRole, Repository, User

# What the policy reads from an actor of each type when a list is filtered: the
# cache key of its DataFilter. Role rows are not here on purpose: the filter
# joins them in SQL when the query runs (read the filter: it holds the user id
# and role names, nothing else), so a role change shows on the next request.
# The reads are checked on every cache miss: if the policy reads more of the
# actor, the filter is not cached.
FILTER_ACTOR_FIELDS: dict[type, tuple[str, ...]] = {User: ("id",)}


@dataclass(frozen=True)
class DecisionInputs:
    """A decision's cache key, and the reads of the policy it stands for."""

    key: Hashable
    reads: frozenset[Read]


def decision_inputs(actor: Any, resource: Any) -> DecisionInputs | None:
    """Everything the policy reads to decide what a Viewer may do to resource, or
    None when that is not known (the decision is then not cached).

    Today's policy reads, per resource class: for an Organization, the viewer's
    role name there (``viewer.role_in``); for a Repository, its organization,
    the viewer's role name there, the organization's base repository role and
    the role granted to the viewer on the repository itself; for an
    OrganizationRole, its organization, the viewer's role name there and both
    user ids; for a User, the viewer's user id and the user's id. The key holds
    those values. The reads are checked on every cache miss: if the policy reads
    anything else, the answer is not cached.
    """
    if type(actor) is not Viewer:  # test doubles and other actors: not cached
        return None
    me = read_key(actor)
    if type(resource) is Organization:
        return DecisionInputs(
            ("Organization", actor.role_in(resource)),
            frozenset({(me, "role_in", (read_key(resource),))}),
        )
    if type(resource) is Repository:
        # A direct grant on it, or the organization's: the viewer's role there
        # and, for members, its base repository role.
        organization = resource.organization
        return DecisionInputs(
            (
                "Repository",
                actor.role_in(organization),
                organization.base_repository_role,
                actor.repository_role_in(resource),
            ),
            frozenset(
                {
                    (read_key(resource), "organization", ()),
                    (me, "role_in", (read_key(organization),)),
                    (read_key(organization), "base_repository_role", ()),
                    (me, "repository_role_in", (read_key(resource),)),
                }
            ),
        )
    if type(resource) is OrganizationRole:
        # The holder rule compares the two user ids; the others read the role's
        # organization and the viewer's role name there.
        organization = resource.organization
        return DecisionInputs(
            (
                "OrganizationRole",
                actor.role_in(organization),
                actor.user_id,
                resource.user_id,
            ),
            frozenset(
                {
                    (read_key(resource), "organization", ()),
                    (read_key(resource), "user_id", ()),
                    (me, "role_in", (read_key(organization),)),
                    (me, "user_id", ()),
                }
            ),
        )
    if type(resource) is User:
        return DecisionInputs(
            ("User", actor.user_id, resource.id),
            frozenset({(me, "user_id", ()), (read_key(resource), "id", ())}),
        )
    return None
