"""Logging in and out, the user loader, and deny-by-default for anonymous users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import AnonymousUserMixin, current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from portal import db
from portal.extensions import login_manager
from portal.forms import LoginForm
from portal.models import User
from portal.passwords import hash_password, needs_rehash, verify_password

bp = Blueprint("auth", __name__)

F = TypeVar("F", bound=Callable[..., Any])

BAD_CREDENTIALS = "Wrong email or password."


class Guest(AnonymousUserMixin):
    """The user of a request that is not logged in."""

    email = None


def public(view: F) -> F:
    """Mark view as reachable without logging in and without an authorization check."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def is_public(app: Flask, endpoint: str | None) -> bool:
    """Whether endpoint is declared public (static files, login, ...)."""
    if endpoint is None or endpoint == "static":
        return True  # no route matched (404), or a static file
    return getattr(app.view_functions.get(endpoint), "is_public", False)


def safe_next(target: str | None) -> str | None:
    """target if it is a same-site relative path such as /orgs/1, else None.

    Refuses //evil, https://evil, javascript:, backslashes and control characters
    (browsers drop tabs and newlines, turning "/\\t/evil" into "//evil").
    """
    if not target or len(target) > 2000 or not target.startswith("/"):
        return None
    if target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def init_app(app: Flask) -> None:
    """Wire Flask-Login and the deny-by-default check into app."""
    login_manager.init_app(app)
    login_manager.anonymous_user = Guest
    login_manager.session_protection = "basic"
    app.before_request(_require_login)
    app.register_blueprint(bp)


@login_manager.user_loader
def load_user(token: str) -> User | None:
    """The user whose current session token is in the cookie (None if rotated)."""
    return db.get_session().scalar(select(User).where(User.session_token == token))


def _require_login() -> Response | None:
    """Send anonymous users to the login page, except on public routes."""
    if current_user.is_authenticated and not is_public(current_app, request.endpoint):
        return None  # the view authorizes
    # Public, or refused here: either way no view-level check is due.
    current_app.extensions["portal.flask_oso"].skip_authorization()
    if is_public(current_app, request.endpoint):
        return None
    if request.method == "GET":
        target = request.full_path.rstrip("?")
        return redirect(url_for("auth.login", next=target))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Response | str | tuple[str, int]:
    """Show the login form; log the user in when the credentials match."""
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("orgs.organization_list"))
    form = LoginForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("auth/login.html", form=form), status
    email = form.email.data.strip().lower()
    dbs = db.get_session()
    user = dbs.scalar(select(User).where(User.email == email))
    # Same hash work whether or not the account exists (see portal.passwords).
    if not verify_password(user.password_hash if user else None, form.password.data):
        form.form_errors.append(BAD_CREDENTIALS)
        return render_template("auth/login.html", form=form), 422
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(form.password.data)
        dbs.commit()
    session.clear()  # no session fixation: nothing from before the login survives
    login_user(user)
    return redirect(next_url or url_for("orgs.organization_list"))


@bp.route("/logout", methods=["POST"])
@public
def logout() -> Response:
    """Log out and kill every copy of the session cookie (token rotation).

    POST only, with the CSRF token CSRFProtect checks on every POST.
    """
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        user.rotate_session_token()
        db.get_session().commit()
        logout_user()
    session.clear()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
