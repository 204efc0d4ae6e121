"""Authorization: the app's Oso, ``authorize()`` for views, ``can()`` for templates,
and lists filtered in SQL generated from the policy.

How a page stays cheap (one Oso decision costs 0.3-1 ms; a table row must not cost
one): every decision about a resource is answered from ``authorized_actions`` for
that resource, asked once per request and remembered. A view's ``authorize()`` and
all of its template's ``can()`` calls on the same organization cost one Oso query;
lists are one data-filtering query however many rows they hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, abort, current_app, g, has_request_context
from flask_login import current_user
from oso import Oso, Relation
from polar.data.adapter.sqlalchemy_adapter import SqlAlchemyAdapter
from sqlalchemy import inspect, select
from sqlalchemy.orm import Query, Session
from sqlalchemy_oso import register_models
from werkzeug.exceptions import Forbidden, NotFound

from portal import db
from portal.flask_oso_compat import FlaskOso
from portal.models import Base, Organization, OrganizationRole, Repository, User

READ = "READ"


class Viewer:
    """The actor for decisions: one user (or nobody) seen through one session.

    ``role_in`` costs one indexed query per organization and is remembered, so the
    cost of a decision does not depend on how many organizations the user is in.
    """

    def __init__(self, session: Session, user_id: int | None) -> None:
        self.session = session
        self.user_id = user_id
        self._roles: dict[int, str | None] = {}

    def role_in(self, organization: Organization) -> str | None:
        """The name of this user's role in organization, or None."""
        if self.user_id is None:
            return None
        if organization.id not in self._roles:
            self._roles[organization.id] = self.session.scalar(
                select(OrganizationRole.name).where(
                    OrganizationRole.user_id == self.user_id,
                    OrganizationRole.organization_id == organization.id,
                )
            )
        return self._roles[organization.id]

    def __repr__(self) -> str:
        return f"<Viewer user={self.user_id}>"


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


class _RequestSessionAdapter(SqlAlchemyAdapter):
    """Oso's SQLAlchemy data-filtering adapter, bound to the current request session.

    The Oso object is shared by all threads of the app, so it cannot hold one
    session; each query builds on the session of the request that asks.
    """

    def __init__(self) -> None:  # no session of its own: see the property
        pass

    @property
    def session(self) -> Session:  # type: ignore[override]
        return db.get_session()


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
    oso.set_data_filtering_adapter(_RequestSessionAdapter())
    oso.load_files([str(policy_path)])
    return oso


def init_app(app: Flask) -> None:
    """Give app its own Oso and FlaskOso (a policy can be loaded only once)."""
    oso = build_oso(Path(app.root_path) / "policy.polar")
    flask_oso = FlaskOso(oso=oso)
    flask_oso.init_app(app)
    flask_oso._app = app  # require_authorization() needs the app it guards
    flask_oso.set_get_actor(current_viewer)
    # Tripwire: a request that reaches a view which neither authorizes nor is
    # declared public fails loudly. It runs after the view, so it cannot undo a
    # write: tests/test_routes.py is the real guarantee.
    flask_oso.require_authorization()
    app.extensions["portal.oso"] = oso
    app.extensions["portal.flask_oso"] = flask_oso


def get_oso() -> PortalOso:
    """The current app's Oso."""
    return current_app.extensions["portal.oso"]


def current_viewer() -> Viewer:
    """The Viewer for the signed-in user of this request (memoized)."""
    if "viewer" not in g:
        user_id = current_user.id if current_user.is_authenticated else None
        g.viewer = Viewer(db.get_session(), user_id)
    return g.viewer


def authorize(action: str, resource: Any) -> None:
    """Let the request go on only if the current user may take action on resource.

    404 if they may not even READ it (its existence is not revealed), 403 if they
    may read it but not take this action.
    """
    flask_oso = current_app.extensions["portal.flask_oso"]
    if resource is None or READ not in get_oso().authorized_actions(
        current_viewer(), resource
    ):
        flask_oso.skip_authorization()  # decided: refused
        abort(404)
    flask_oso.authorize(resource, action=action)  # 403 unless allowed


def my_role(organization: Organization) -> str | None:
    """The signed-in user's role in organization, for display (no extra query
    once authorize() has looked at the organization)."""
    return current_viewer().role_in(organization)


def can(action: str, resource: Any) -> bool:
    """Whether the current user may take action on resource (for templates)."""
    return action in get_oso().authorized_actions(current_viewer(), resource)


def authorized(action: str, model: type) -> Query:
    """A query for the model rows the signed-in user may take action on.

    The filter is SQL generated from the policy (has_role for User), so it costs
    one query however many rows match. Listing is itself authorization: the
    request is marked as authorized for FlaskOso's tripwire.
    """
    current_app.extensions["portal.flask_oso"].skip_authorization()
    return get_oso().authorized_query(current_user._get_current_object(), action, model)
