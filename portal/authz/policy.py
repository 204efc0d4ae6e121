"""The app's Oso: classes registered, the policy loaded, decisions memoized."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import g, has_request_context
from oso import Oso, Relation
from sqlalchemy import inspect
from sqlalchemy_oso import register_models
from werkzeug.exceptions import Forbidden, NotFound

from portal.authz.actors import Viewer
from portal.authz.adapter import RequestSessionAdapter
from portal.models import Base, Organization, OrganizationRole, Repository, User

READ = "READ"


class PortalOso(Oso):
    """Oso that remembers, per request, what an actor may do to a resource.

    ``is_allowed`` (used by FlaskOso.authorize) is answered from
    ``authorized_actions``, so asking about several actions on one resource costs
    one policy query. ``queries`` counts the policy queries made (for tests and
    benchmarks; approximate under threads).
    """

    queries = 0

    def authorized_actions(
        self, actor: Any, resource: Any, allow_wildcard: bool = False
    ) -> set[Any]:
        """The actions actor may take on resource, remembered for the request."""
        memo = g.setdefault("authz_memo", {}) if has_request_context() else None
        key = (id(actor), _identity(resource))
        if memo is not None and key[1] is not None and key in memo:
            return memo[key][1]
        self.queries += 1
        actions = super().authorized_actions(actor, resource, allow_wildcard)
        if memo is not None and key[1] is not None:
            # Keep the actor alive with the answer so its id() is not reused.
            memo[key] = (actor, actions)
        return actions

    def is_allowed(self, actor: Any, action: Any, resource: Any) -> bool:
        """Whether actor may take action on resource."""
        return action in self.authorized_actions(actor, resource)

    def authorized_query(self, actor: Any, action: Any, resource_cls: type) -> Any:
        """A query for the resource_cls rows actor may take action on."""
        self.queries += 1
        return super().authorized_query(actor, action, resource_cls)


def _identity(resource: Any) -> Any:
    """A stable key for a persistent ORM object; None for anything else."""
    state = inspect(resource, raiseerr=False)
    if state is None or getattr(state, "identity_key", None) is None:
        return None
    return state.identity_key


def build_oso(policy_path: Path) -> PortalOso:
    """An Oso with our classes registered and the policy loaded.

    read_action is upper-case like our actions: Oso uses it to choose between
    "not found" and "forbidden".
    """
    oso = PortalOso(
        forbidden_error=Forbidden, not_found_error=NotFound, read_action=READ
    )
    # Classes with fields and relations, for data filtering. Registered before
    # the policy loads, as Oso requires.
    oso.register_class(User, fields={"id": int, "email": str})
    oso.register_class(
        Organization,
        fields={
            "id": int,
            "name": str,
            "roles": Relation(
                kind="many",
                other_type="OrganizationRole",
                my_field="id",
                other_field="organization_id",
            ),
        },
    )
    oso.register_class(
        OrganizationRole,
        fields={
            "id": int,
            "name": str,
            "user_id": int,
            "organization_id": int,
        },
    )
    oso.register_class(
        Repository,
        fields={
            "id": int,
            "name": str,
            "organization_id": int,
            "organization": Relation(
                kind="one",
                other_type="Organization",
                my_field="organization_id",
                other_field="id",
            ),
        },
    )
    # Anything else mapped (registered by name only); skips the classes above.
    register_models(oso, Base)
    oso.register_class(Viewer)
    oso.set_data_filtering_adapter(RequestSessionAdapter())
    oso.load_files([str(policy_path)])
    return oso
