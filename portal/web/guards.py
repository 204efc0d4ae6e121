"""Deny by default: anonymous users go to the login page (JSON: 401) unless a route
is public."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal.authz import skip_authorization
from portal.web.negotiation import to_login

F = TypeVar("F", bound=Callable[..., Any])


def public(view: F) -> F:
    """Mark view as reachable without logging in and without an authorization check."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def is_public(app: Flask, endpoint: str | None) -> bool:
    """Whether endpoint is declared public (static files, login, ...)."""
    if endpoint is None or endpoint == "static":
        return True  # no route matched (404), or a static file
    return getattr(app.view_functions.get(endpoint), "is_public", False)


def init_app(app: Flask) -> None:
    """Send anonymous users to the login page on every non-public route."""
    app.before_request(_require_login)


def _require_login() -> Response | None:
    """Send anonymous users to the login page, except on public routes."""
    if request.method == "OPTIONS":
        # Flask answers OPTIONS itself (the Allow header) without running a view.
        skip_authorization()
        return None
    # Public first: a public route (/healthz) must not need the database just to
    # learn who is asking.
    if not is_public(current_app, request.endpoint) and current_user.is_authenticated:
        return None  # the view authorizes
    # Public, or refused here: either way no view-level check is due.
    skip_authorization()
    if is_public(current_app, request.endpoint):
        return None
    if request.method == "GET":
        target = request.full_path.rstrip("?")
        return to_login(url_for("auth.login", next=target))
    return to_login(url_for("auth.login"))
