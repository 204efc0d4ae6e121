"""Logging in and out: the login form, the logout button and the ``next`` target."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    redirect,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, logout_user
from sqlalchemy import select

from portal.domain import throttle, users
from portal.domain.models import User, normalize_email
from portal.forms import LoginForm, text
from portal.infra import db
from portal.infra.passwords import hash_password, needs_rehash, verify_password
from portal.web import throttling
from portal.web.guards import public
from portal.web.negotiation import done, render
from portal.web.pages import PageView
from portal.web.sessions import start_session

bp = Blueprint("auth", __name__)

BAD_CREDENTIALS = "Wrong email or password."


@dataclass(frozen=True)
class LoginPage(PageView):
    """The login form (JSON: nothing but the CSRF token every answer has)."""

    template = "auth/login.html"
    form: LoginForm


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


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    """Show the login form; log the user in when the credentials match."""
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        target = next_url or url_for("orgs.organization_list")
        # Reading the form: the page is elsewhere. Sending it: a login already done.
        if request.method in db.SAFE_METHODS:
            return redirect(target)
        return done(None, target)
    form = LoginForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render(LoginPage(form), status)
    email = normalize_email(text(form.email))
    password = text(form.password)
    dbs = db.get_session()
    user = dbs.scalar(select(User).where(User.email == email))
    seen = users.Seen.of(user) if user is not None else None
    who = _id_of(user)  # read now: after a commit, user would be read again
    # Committed, so no lock is held while the deliberately slow hash runs.
    attempt = throttling.start_attempt(email)
    if isinstance(attempt, throttle.Throttled):
        current_app.logger.warning(
            "login throttled: user=%s from=%s retry_after=%ds",
            who,
            request.remote_addr,
            attempt.wait.total_seconds(),
        )
        form.form_errors.append(throttle.too_many_failures(attempt.wait))
        return render(LoginPage(form), 429, throttle.retry_after(attempt.wait))
    if isinstance(attempt, throttle.Crowded):
        current_app.logger.warning(
            "login busy: user=%s from=%s", who, request.remote_addr
        )
        form.form_errors.append(throttle.CROWDED)
        return render(LoginPage(form), 503, throttle.CROWDED_RETRY_AFTER)
    # Same hash work whether or not the account exists (see portal.infra.passwords).
    verified = verify_password(seen.password_hash if seen else None, password)
    if user is None or seen is None or not verified:
        reason = "no such account" if user is None else "wrong password"
        return _bad_credentials(form, who, reason, attempt)
    rehash = hash_password(password) if needs_rehash(seen.password_hash) else None
    try:
        with db.transaction(dbs):
            users.confirm_login(dbs, user, seen, rehash)  # locks the user row
            throttle.succeeded(dbs, email)
    except users.AccountChangedMeanwhile:
        # The password changed while we checked.
        return _bad_credentials(form, who, "password changed meanwhile", attempt)
    start_session(user)
    return done(None, next_url or url_for("orgs.organization_list"))


def _bad_credentials(
    form: LoginForm, who: str, reason: str, attempt: throttle.Attempt
) -> ResponseReturnValue:
    """The login form again, with the one message for any wrong credentials; the
    attempt counted as a failure. who: the account's id for the log, or "-"."""
    dbs = db.get_session()
    with db.transaction(dbs):
        throttle.failed(dbs, attempt)
    current_app.logger.info(
        "login refused: user=%s from=%s reason=%s",
        who,
        request.remote_addr,
        reason,
    )
    form.form_errors.append(BAD_CREDENTIALS)
    return render(LoginPage(form), 422)


def _id_of(user: User | None) -> str:
    """user's id for a log line; "-" for an email that has no account (the email
    itself stays out of the logs)."""
    return "-" if user is None else str(user.id)


@bp.route("/logout", methods=["POST"])
@public
def logout() -> ResponseReturnValue:
    """Log out and kill every copy of the session cookie (token rotation).

    POST only, with the CSRF token CSRFProtect checks on every POST.
    """
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        with db.transaction(db.get_session()):
            user.rotate_session_token()
        logout_user()
    session.clear()
    return done("You are logged out.", url_for("auth.login"), "info")
