"""Forgot your password? Ask for a link by mail, then set a new password with it.

``/password/forgot`` answers every email alike ("If an account uses ..."), so it
tells nobody which emails have accounts; the mail, if any, goes through the
outbox (portal.domain.outbox) in the request's transaction. The rules (what is
recorded, the throttle, single use) are portal.domain.password_reset's.

``/password/reset/<token>`` is the mailed link. Opening it changes nothing (a
mail scanner that follows links spends no token); sending its form sets the
password, ends every session of the account, spends the account's other links,
and logs the person in: they have just shown they read the account's mail,
which is what the link asks of them, and sending them to the login page to type
the password they just chose would add a step and no safety. The token is in
the URL, so these pages send no Referer anywhere (Referrer-Policy: no-referrer).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from portal.domain import outbox
from portal.domain import password_reset as resets
from portal.domain.models import normalize_email
from portal.forms import ForgotPasswordForm, ResetPasswordForm, text
from portal.infra import clock, db
from portal.infra.passwords import hash_password
from portal.web.guards import public
from portal.web.links import public_url
from portal.web.negotiation import done, render
from portal.web.pages import Body, PageView
from portal.web.sessions import start_session

bp = Blueprint("password", __name__, url_prefix="/password")

#: The token is in the reset pages' URL: no page, image or stylesheet request
#: they cause may carry it anywhere (the app's default is same-origin).
NO_REFERRER = {"Referrer-Policy": "no-referrer"}


def on_its_way(email: str) -> str:
    """The one answer to a reset request, whether or not email has an account."""
    return f"If an account uses {email}, a link to set a new password is on its way."


@dataclass(frozen=True)
class ForgotPage(PageView):
    """The form asking for the email (JSON: nothing but the CSRF token)."""

    template = "auth/forgot.html"
    form: ForgotPasswordForm
    lifetime: str = resets.in_words(resets.TOKEN_LIFETIME)


@dataclass(frozen=True)
class SentPage(PageView):
    """What to do next: read the mail (the request's answer is its flash)."""

    template = "auth/forgot_sent.html"
    lifetime: str = resets.in_words(resets.TOKEN_LIFETIME)

    def json(self) -> Body:
        """``{"lifetime_seconds"}``: how long a mailed link works."""
        return {"lifetime_seconds": int(resets.TOKEN_LIFETIME.total_seconds())}


@dataclass(frozen=True)
class ResetPage(PageView):
    """The new-password form of a working link, naming its account."""

    template = "auth/reset.html"
    form: ResetPasswordForm
    email: str

    def json(self) -> Body:
        """``{"email"}``: the account the link sets a password for."""
        return {"email": self.email}


@dataclass(frozen=True)
class DeadLinkPage(PageView):
    """A link that does not work (any more), and why in words."""

    template = "auth/reset_dead.html"
    heading: str
    message: str


_DEAD = {
    resets.LinkState.UNKNOWN: (
        404,
        "This link does not work",
        "This address is not a working link to set a password: it may be"
        " mistyped or cut short. Copy the whole link from the mail, or ask for a"
        " new one.",
    ),
    resets.LinkState.EXPIRED: (
        410,
        "This link has expired",
        "Links to set a new password work for"
        f" {resets.in_words(resets.TOKEN_LIFETIME)}. Ask for a new one.",
    ),
    resets.LinkState.USED: (
        410,
        "This link was already used",
        "Each link sets a password once, and a newer password ends every older"
        " link. If that was not you, ask for a new link.",
    ),
}


def _dead(link: resets.Link) -> Response:
    status, heading, message = _DEAD[link.state]
    return render(DeadLinkPage(heading, message), status, NO_REFERRER)


@bp.route("/forgot", methods=["GET", "POST"])
@public
def forgot() -> ResponseReturnValue:
    """Ask for a link to set a new password; the same answer for every email."""
    form = ForgotPasswordForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render(ForgotPage(form), status)
    email = normalize_email(text(form.email))
    client = request.remote_addr or "-"
    dbs = db.get_session()
    with db.transaction(dbs):
        outcome = resets.request_reset(dbs, email, client, clock.now())
        if isinstance(outcome, resets.Requested) and outcome.token is not None:
            _queue_mail(dbs, email, outcome.token)
    if isinstance(outcome, resets.Throttled):
        current_app.logger.warning("password reset throttled: from=%s", client)
        form.form_errors.append(resets.too_many_requests(outcome.wait))
        return render(ForgotPage(form), 429, resets.retry_after(outcome.wait))
    current_app.logger.info(
        "password reset requested: user=%s from=%s mailed=%s",
        outcome.user_id or "-",
        client,
        "yes" if outcome.token is not None else "no",
    )
    return done(on_its_way(email), url_for("password.forgot_sent"), "info")


def _queue_mail(dbs: Session, email: str, token: str) -> None:
    """The mail with the link, in the outbox of dbs's transaction."""
    link = public_url("password.reset", token=token)
    lifetime = resets.in_words(resets.TOKEN_LIFETIME)
    body = (
        f"Someone, hopefully you, asked to set a new password for the Portal"
        f" account {email}.\n\n"
        f"To choose a new password, open this link within {lifetime}:\n\n"
        f"{link}\n\n"
        "The link works once. Setting a new password logs the account out"
        " everywhere.\n\n"
        "If you did not ask for this, ignore this mail: your password stays as"
        " it is.\n"
    )
    outbox.enqueue(
        dbs,
        kind="password_reset",
        to=email,
        subject="Set a new password for Portal",
        body=body,
    )


@bp.route("/forgot/sent")
@public
def forgot_sent() -> ResponseReturnValue:
    """Where a reset request lands: check your mail."""
    return render(SentPage())


@bp.route("/reset/<token>", methods=["GET", "POST"])
@public
def reset(token: str) -> ResponseReturnValue:
    """Set a new password through a mailed link (404 unknown, 410 expired or
    used); opening the link changes nothing."""
    dbs = db.get_session()
    # Ended before the slow hash: no lock is held while it runs.
    with db.transaction(dbs):
        link = resets.find_link(dbs, token, clock.now())
    if link.state is not resets.LinkState.USABLE or link.email is None:
        return _dead(link)
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render(ResetPage(form, link.email), status, NO_REFERRER)
    new_hash = hash_password(text(form["new_password"]))
    try:
        with db.transaction(dbs):
            # Also forgets the account's login failures: they read its mail,
            # and someone else's guesses no longer stand between them and it.
            user = resets.use_link(dbs, token, new_hash, clock.now())
    except resets.LinkNotUsable as error:  # used by another request meanwhile
        return _dead(error.link)
    current_app.logger.info("password reset used: user=%s", user.id)
    start_session(user)  # a fresh session on the new session token
    message = (
        "Your new password is set and you are logged in. Every other session of"
        " your account was logged out."
    )
    response = done(message, url_for("orgs.organization_list"))
    response.headers.update(NO_REFERRER)
    return response
