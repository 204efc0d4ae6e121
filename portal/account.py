"""The signed-in user's own account: changing the password."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal.authz import authorize
from portal.domain import throttle, users
from portal.domain.models import User
from portal.forms import PasswordForm, text
from portal.infra import db
from portal.infra.passwords import hash_password, verify_password
from portal.web import throttling
from portal.web.negotiation import done, render
from portal.web.pages import PageView
from portal.web.sessions import start_session

bp = Blueprint("account", __name__, url_prefix="/account")


@dataclass(frozen=True)
class PasswordPage(PageView):
    """The password form (JSON: nothing but the CSRF token every answer has)."""

    template = "account/password.html"
    form: PasswordForm


@bp.route("/password", methods=["GET", "POST"])
def password_change() -> ResponseReturnValue:
    """Change one's password; every other session of the account is logged out.

    Of two changes at the same moment, one wins and the other gets 409 (see
    portal.domain.users).
    """
    user: User = current_user._get_current_object()  # loaded by this session
    authorize("CHANGE_PASSWORD", user)
    form = PasswordForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render(PasswordPage(form), status)
    session = db.get_session()
    email = user.email
    seen = users.Seen.of(user)  # what the password is verified against
    # Committed, so no lock is held while the deliberately slow hashes run.
    attempt = throttling.start_attempt(email)
    if isinstance(attempt, throttle.Throttled):
        form.form_errors.append(throttle.too_many_failures(attempt.wait))
        return render(PasswordPage(form), 429, throttle.retry_after(attempt.wait))
    if isinstance(attempt, throttle.Crowded):
        form.form_errors.append(throttle.CROWDED)
        return render(PasswordPage(form), 503, throttle.CROWDED_RETRY_AFTER)
    if not verify_password(seen.password_hash, text(form.current_password)):
        with db.transaction(session):
            throttle.failed(session, attempt)
        form.current_password.errors = ["That is not your current password."]
        return render(PasswordPage(form), 422)
    new_hash = hash_password(text(form.new_password))
    try:
        with db.transaction(session):
            users.change_password(session, user, seen, new_hash)  # locks the row
            throttle.succeeded(session, email)
    except users.AccountChangedMeanwhile as error:
        # Counted as a failure, as a login whose password changed meanwhile is.
        with db.transaction(session):
            throttle.failed(session, attempt)
        form.form_errors.append(str(error))
        return render(PasswordPage(form), 409)
    start_session(user)  # this browser stays logged in, on the new token
    changed = "Your password was changed. Any other sessions were logged out."
    return done(changed, url_for("orgs.organization_list"))
