"""The signed-in user's own account: who they are, their organizations with their
role in each, the way to their repositories, and changing the password.

``GET /account`` is what a script asks first after logging in: its JSON names the
user, their organizations (role codes) and the links to the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import Blueprint, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from portal.authz import authorize, authorized
from portal.domain import name_search, password_reset, throttle, users
from portal.domain.models import Organization, User
from portal.domain.paging import Page
from portal.forms import PasswordForm, text
from portal.infra import clock, db
from portal.infra.passwords import hash_password, verify_password
from portal.web import throttling
from portal.web.loaders import page_of
from portal.web.negotiation import done, render
from portal.web.pages import Body, PageView, organization_json, paging_json
from portal.web.sessions import start_session

bp = Blueprint("account", __name__, url_prefix="/account")


@dataclass(frozen=True)
class AccountPage(PageView):
    """Who the user is, their organizations (a page at a time, by name) with
    their role in each, and where their repositories and password are."""

    template = "account/show.html"
    user: User
    organizations: Page[Organization]
    roles: Mapping[int, str]  # organization id -> the user's role there

    def json(self) -> Body:
        """``{"user": {"id", "email"}, "organizations": [{"id", "name", "role"}],
        "paging", "links": {"repositories", "organizations", "password"}}``;
        roles are codes."""
        organizations = self.organizations
        return {
            "user": {"id": self.user.id, "email": self.user.email},
            "organizations": [
                {**organization_json(org), "role": self.roles.get(org.id)}
                for org in organizations.items
            ],
            "paging": paging_json(organizations),
            "links": {
                "repositories": url_for("my_repositories.repository_list"),
                "organizations": url_for("orgs.organization_list"),
                "password": url_for("account.password_change"),
            },
        }


@bp.route("")
def account_show() -> ResponseReturnValue:
    """The user's own page: their email and id, their organizations with their
    role in each (the organization list's query), and links to their
    repositories and to changing the password."""
    user: User = current_user._get_current_object()  # loaded by this session
    authorize("READ", user)
    organizations = page_of(
        authorized("READ", Organization).order_by(Organization.name, Organization.id)
    )
    roles = name_search.roles_in(
        db.get_session(), user.id, (org.id for org in organizations.items)
    )
    return render(AccountPage(user, organizations, roles))


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
            # Issue 19: a link mailed before the change may set no other password.
            password_reset.spend_links(session, user.id, clock.now())
    except users.AccountChangedMeanwhile as error:
        # Counted as a failure, as a login whose password changed meanwhile is.
        with db.transaction(session):
            throttle.failed(session, attempt)
        form.form_errors.append(str(error))
        return render(PasswordPage(form), 409)
    start_session(user)  # this browser stays logged in, on the new token
    changed = "Your password was changed. Any other sessions were logged out."
    return done(changed, url_for("orgs.organization_list"))
