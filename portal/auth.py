"""Logging in and out, the user loader, and deny-by-default for anonymous users."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from math import ceil
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

from portal import clock, db, throttle
from portal.extensions import login_manager
from portal.forms import LoginForm
from portal.models import User, normalize_email
from portal.passwords import hash_password, needs_rehash, verify_password

bp = Blueprint("auth", __name__)

F = TypeVar("F", bound=Callable[..., Any])

BAD_CREDENTIALS = "Wrong email or password."
SESSION_EXPIRED = "Your session has expired. Please log in again."

# Re-stamp "last seen" at most this often, so that an active user's cookie is not
# rewritten on every request.
_SEEN_RESOLUTION = 60.0


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
    app.before_request(_expire_old_sessions)
    app.before_request(_require_login)
    app.register_blueprint(bp)


@login_manager.user_loader
def load_user(token: str) -> User | None:
    """The user whose current session token is in the cookie (None if rotated)."""
    return db.get_session().scalar(select(User).where(User.session_token == token))


def start_session(user: User) -> None:
    """Log user in on a fresh session (nothing from before survives: no fixation)."""
    session.clear()
    login_user(user)
    stamp = clock.now().timestamp()
    session["login_at"] = stamp
    session["seen_at"] = stamp


def _expire_old_sessions() -> None:
    """Log out sessions idle for too long or older than the absolute lifetime."""
    if "_user_id" not in session or request.endpoint == "auth.logout":
        # Logout must still see the user, to rotate the token: a copy of this
        # cookie that a thief keeps active would otherwise outlive the logout.
        return
    stamp = clock.now().timestamp()
    config = current_app.config
    login_at = session.get("login_at", 0.0)
    seen_at = session.get("seen_at", 0.0)
    if (
        stamp - seen_at > config["SESSION_IDLE_TIMEOUT"].total_seconds()
        or stamp - login_at > config["SESSION_MAX_AGE"].total_seconds()
    ):
        logout_user()
        session.clear()
        flash(SESSION_EXPIRED, "info")
        return
    if stamp - seen_at >= _SEEN_RESOLUTION:
        session["seen_at"] = stamp


def _require_login() -> Response | None:
    """Send anonymous users to the login page, except on public routes."""
    if request.method == "OPTIONS":
        # Flask answers OPTIONS itself (the Allow header) without running a view.
        current_app.extensions["portal.flask_oso"].skip_authorization()
        return None
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
def login() -> Response | str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    """Show the login form; log the user in when the credentials match."""
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("orgs.organization_list"))
    form = LoginForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("auth/login.html", form=form), status
    email = normalize_email(form.email.data)
    dbs = db.get_session()
    user = dbs.scalar(select(User).where(User.email == email))
    password_hash = user.password_hash if user else None
    # Commits, so no lock is held while the deliberately slow hash runs.
    wait = throttle.start_attempt(dbs, email, clock.now())
    if wait is not None:
        form.form_errors.append(too_many_failures(wait))
        return throttled(render_template("auth/login.html", form=form), wait)
    # Same hash work whether or not the account exists (see portal.passwords).
    if not verify_password(password_hash, form.password.data):
        form.form_errors.append(BAD_CREDENTIALS)
        return render_template("auth/login.html", form=form), 422
    throttle.succeeded(dbs, email)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(form.password.data)
    dbs.commit()
    start_session(user)
    return redirect(next_url or url_for("orgs.organization_list"))


def throttled(page: str, wait: timedelta) -> tuple[str, int, dict[str, str]]:
    """A 429 response for a throttled account, with Retry-After."""
    return page, 429, {"Retry-After": str(ceil(wait.total_seconds()))}


def too_many_failures(wait: timedelta) -> str:
    """The message for a throttled account."""
    minutes = max(1, ceil(wait.total_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return (
        "Too many failed logins for this account. For its protection, logging in"
        f" is paused: try again in {minutes} {unit}."
    )


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
