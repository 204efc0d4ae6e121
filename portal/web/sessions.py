"""Who is logged in: Flask-Login wiring, the user loader and session lifetime.

The session cookie holds the user's random session token, not their id, so
rotating the token (logout, password change) ends every copy of an old cookie.
Sessions end after SESSION_IDLE_TIMEOUT without a request and SESSION_MAX_AGE
after login, by the app's clock.
"""

from __future__ import annotations

from flask import Flask, current_app, flash, g, request, session
from flask_login import AnonymousUserMixin, login_user, logout_user
from sqlalchemy import select

from portal.domain.models import User
from portal.infra import clock, db
from portal.web.extensions import login_manager

SESSION_EXPIRED = "Your session has expired. Please log in again."

# Re-stamp "last seen" at most this often, so that an active user's cookie is not
# rewritten on every request.
_SEEN_RESOLUTION = 60.0


# Flask-Login ships no type information: its classes and decorators are Any.
class Guest(AnonymousUserMixin):  # type: ignore[misc]
    """The user of a request that is not logged in."""

    email = None


def init_app(app: Flask) -> None:
    """Wire Flask-Login and session expiry into app."""
    login_manager.init_app(app)
    login_manager.anonymous_user = Guest
    login_manager.session_protection = "basic"
    app.before_request(_expire_old_sessions)


@login_manager.user_loader  # type: ignore[untyped-decorator]  # Flask-Login: untyped
def load_user(token: str) -> User | None:
    """The user whose current session token is in the cookie (None if rotated)."""
    return db.get_session().scalar(select(User).where(User.session_token == token))


def start_session(user: User) -> None:
    """Log user in on a fresh session (nothing from before survives: no fixation)."""
    session.clear()
    g.pop("csrf_token", None)  # Flask-WTF's copy of the token just cleared
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
