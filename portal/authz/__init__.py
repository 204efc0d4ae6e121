"""Authorization: everything Oso, behind a small surface for views and templates.

- ``authorize(action, resource)`` for views, ``can(action, resource)`` for
  templates, ``authorized(action, Model)``: a ``select()`` of the rows a list may
  show, filtered in SQL generated from the policy;
- ``portal.authz.policy``: the app's Oso (classes registered, policy loaded) and
  its caches; ``portal.authz.reads``: what the policy reads, the caches' keys;
  ``portal.authz.recording``: what Polar read, recorded while it runs;
  ``portal.authz.registration``: the mapped classes with their fields;
- ``access(organization)``: what each role grants there and why, derived from
  the policy's answers (``portal.authz.explain``);
- ``portal.authz.actors``: the Viewer and RoleHolder actors;
  ``portal.authz.adapter``: the data-filtering adapter;
  ``portal.authz.flask_oso_compat``: flask-oso on Flask 3.

How a page stays cheap (one Oso decision costs 0.3-1 ms; a table row must not cost
one): every decision about a resource is answered from ``authorized_actions`` for
that resource, asked once per request and remembered. A view's ``authorize()`` and
all of its template's ``can()`` calls on the same organization cost one Oso query;
lists are one data-filtering query however many rows they hold, and the
controls on a list's rows one query for the page (``decide_rows``). Across requests,
PortalOso keeps both kinds of answer in bounded caches keyed by everything the
policy reads (a Viewer's role name in the organization; a user's id for a list's
filter), so a warm page usually makes no Oso query at all (see
``portal.authz.policy`` and ``portal.authz.reads``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, cast

from flask import Flask, abort, current_app, g
from flask_login import current_user
from sqlalchemy import Select
from werkzeug.exceptions import Forbidden

from portal.authz.actors import Viewer
from portal.authz.explain import AccessModel, access_model
from portal.authz.flask_oso_compat import FlaskOso
from portal.authz.policy import (
    READ,
    PortalOso,
    RoleGrant,
    build_oso,
    learn_role_grants,
)
from portal.authz.repository_explain import (
    REPOSITORY,
    RepositoryAccess,
    learn_repository_access,
)
from portal.authz.words import ORGANIZATION, Words, check_covers, load_words
from portal.domain.models import (
    REPOSITORY_ROLE_NAMES,
    ROLE_NAMES,
    Organization,
    Repository,
)
from portal.infra import db

__all__ = [
    "READ",
    "AccessModel",
    "PortalOso",
    "RepositoryAccess",
    "Viewer",
    "access",
    "authorize",
    "authorized",
    "can",
    "current_viewer",
    "decide_rows",
    "get_oso",
    "init_app",
    "my_role",
    "readable_rows",
    "relearn_repository_access",
    "repository_access",
    "repository_role",
    "skip_authorization",
    "strongest_repository_role",
    "words",
]

# Where init_app keeps the app's Oso and FlaskOso. Read them through get_oso() and
# _flask_oso(), which say their types, never by these strings.
_OSO = "portal.oso"
_FLASK_OSO = "portal.flask_oso"
_WORDS = "portal.words"
_REPOSITORY_GRANTS = "portal.repository_role_grants"
_REPOSITORY_ACCESS = "portal.repository_access"


def init_app(app: Flask) -> None:
    """Give app its own Oso and FlaskOso (a policy can be loaded only once)."""
    oso = build_oso(
        Path(app.root_path) / "policy.polar",
        cache_size=app.config["AUTHZ_CACHE_SIZE"],
    )
    flask_oso = FlaskOso(oso=oso)
    flask_oso.init_app(app)
    flask_oso._app = app  # require_authorization() needs the app it guards
    flask_oso.set_get_actor(current_viewer)
    # Tripwire: a request that reaches a view which neither authorizes nor is
    # declared public fails loudly. It runs after the view, so it cannot undo a
    # write: tests/test_routes.py is the real guarantee.
    flask_oso.require_authorization()
    # What each repository role grants, asked once (its answer is not cached:
    # the policy reads the transient repository), before learn_role_grants
    # zeroes the counters: start-up work is not a request's.
    app.extensions[_REPOSITORY_GRANTS] = oso.role_grants(
        REPOSITORY_ROLE_NAMES, Repository()
    )
    grants = learn_role_grants(oso)  # after FlaskOso, which registers a class
    app.extensions[_OSO] = oso
    app.extensions[_FLASK_OSO] = flask_oso
    repository_grants = app.extensions[_REPOSITORY_GRANTS]
    app.extensions[_WORDS] = _checked_words(app, grants, repository_grants)
    relearn_repository_access(app)


def relearn_repository_access(app: Flask) -> None:
    """Ask app's policy what repository roles grant and what the organization
    gives (portal.authz.repository_explain), once: at start-up, or after a test
    replaced the policy (a deploy restarts). Its queries are no request's."""
    oso = get_oso(app)
    queries, hits = oso.queries, oso.cache_hits
    grants = oso.role_grants(ROLE_NAMES, Organization())
    learned = learn_repository_access(oso, grants, words(app))
    oso.queries, oso.cache_hits = queries, hits  # start-up work: uncounted
    app.extensions[_REPOSITORY_ACCESS] = learned
    app.extensions[_REPOSITORY_GRANTS] = learned.grants  # the same answer


def repository_access(app: Flask | None = None) -> RepositoryAccess:
    """What repository roles grant and who holds them through the organization,
    as the policy answered at start-up (no Oso query)."""
    extensions = (current_app if app is None else app).extensions
    return cast(RepositoryAccess, extensions[_REPOSITORY_ACCESS])


def _checked_words(
    app: Flask,
    grants: dict[str, RoleGrant],
    repository_grants: dict[str, RoleGrant],
) -> Words:
    """The plain words beside the policy, refused at start-up (MissingWords) if
    the loaded policy grants an organization or repository role or permission
    they do not name (grants, repository_grants: what it grants each role)."""
    loaded = load_words(Path(app.root_path) / "policy_words.toml")
    for resource, granted in (
        (ORGANIZATION, grants),
        (REPOSITORY, repository_grants),
    ):
        permissions = {action for grant in granted.values() for action in grant.actions}
        check_covers(loaded, resource, granted, sorted(permissions))
    return loaded


def words(app: Flask | None = None) -> Words:
    """The plain words for the policy's roles and permissions (of app, by
    default the current app's)."""
    extensions = (current_app if app is None else app).extensions
    return cast(Words, extensions[_WORDS])


def get_oso(app: Flask | None = None) -> PortalOso:
    """The Oso of app, by default of the current app."""
    # init_app stored it; extensions is a dict of anything, so say what it is.
    extensions = (current_app if app is None else app).extensions
    return cast(PortalOso, extensions[_OSO])


def _flask_oso() -> FlaskOso:
    """The current app's FlaskOso."""
    return current_app.extensions[_FLASK_OSO]


def skip_authorization() -> None:
    """Tell FlaskOso's tripwire that this request needs no check in its view:
    it was decided before the view (refused, or public)."""
    _flask_oso().skip_authorization()


def current_viewer() -> Viewer:
    """The Viewer for the signed-in user of this request (memoized)."""
    viewer: Viewer | None = g.get("viewer")
    if viewer is None:
        user_id = current_user.id if current_user.is_authenticated else None
        viewer = g.viewer = Viewer(db.get_session(), user_id)
    return viewer


def authorize(action: str, resource: object) -> None:
    """Let the request go on only if the current user may take action on resource.

    resource is a loaded row (portal.web.loaders 404s for a missing one). 404 if the
    user may not even READ it (its existence is not revealed), 403 if they may
    read it but not take this action.
    """
    if READ not in get_oso().authorized_actions(current_viewer(), resource):
        skip_authorization()  # decided: refused
        abort(404)
    try:
        _flask_oso().authorize(resource, action=action)  # 403 unless allowed
    except Forbidden:
        g.refused = (action, resource)  # what the 403 page says was refused
        raise


def my_role(organization: Organization) -> str | None:
    """The signed-in user's role in organization, for display (no extra query
    once authorize() has looked at the organization)."""
    return current_viewer().role_in(organization)


def can(action: str, resource: Any) -> bool:
    """Whether the current user may take action on resource (for templates)."""
    return action in get_oso().authorized_actions(current_viewer(), resource)


def decide_rows(rows: Sequence[Any]) -> None:
    """Ask the policy what the current user may do to each row of a list at once
    (at most one Oso query, none for rows already answered), so that the
    template's can() on each row is answered from the request's memo: a list
    whose rows carry controls costs one query, not one per row."""
    get_oso().authorized_actions_each(current_viewer(), rows)


def repository_role(repository: Repository) -> str | None:
    """The current user's role on repository (None: none), read off what the
    policy lets them do there (can()'s answer: call decide_rows on a list's rows
    first); never worked out here."""
    actions = get_oso().authorized_actions(current_viewer(), repository)
    return strongest_repository_role(actions)


def strongest_repository_role(actions: Collection[str]) -> str | None:
    """The strongest repository role whose every permission is among actions
    (None: none), by what the loaded policy grants each repository role."""
    grants: dict[str, RoleGrant] = current_app.extensions[_REPOSITORY_GRANTS]
    for name in REPOSITORY_ROLE_NAMES:  # strongest first
        if grants[name].actions <= set(actions):
            return name
    return None


def access(organization: Organization) -> AccessModel:
    """What each role grants in organization, as the loaded policy answers it
    (for the roles x permissions table and the "why" of a member's permissions)."""
    return access_model(get_oso(), organization, words())


def authorized(action: str, model: type) -> Select[Any]:
    """A select() of the model rows the signed-in user may take action on.

    The filter is SQL generated from the policy (has_role for User), so it costs
    one query however many rows match; add where/order_by and run it with
    ``db.get_session().scalars(...)``. Listing is itself authorization: the
    request is marked as authorized for FlaskOso's tripwire.
    """
    skip_authorization()
    return readable_rows(action, model)


def readable_rows(action: str, model: type) -> Select[Any]:
    """``authorized()`` without marking the request as authorized.

    For what the layout shows on every page (the header's organization switcher):
    a view that forgot to authorize must still trip FlaskOso's tripwire, whatever
    its page's header lists. The same SQL filter, from the same policy.
    """
    return get_oso().authorized_query(current_user._get_current_object(), action, model)
