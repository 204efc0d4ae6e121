"""Errors and feedback where the eye is, over HTTP: an error summary at the top of
every refused form (focus target, a link to each field), the message of a change
as the focus target, and refusals that link to what to do next.

What the browser does with them (focus, a click on a summary link): tests/e2e/
test_feedback_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, template_rendered
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain import demo, roles
from portal.web.refusals import Refusal, next_step
from tests.conftest import (
    AuthActions,
    csrf_token,
    organization,
    roles_snapshot,
    user_by_email,
)
from tests.test_json import guard_of

BEATLES = demo.BEATLES_ID
SUMMARY = '<div class="error-summary" role="alert"'
FOCUSED = 'tabindex="-1" data-focus'


def _summary(page: str) -> str:
    """The error summary's markup (AssertionError if the page has none)."""
    match = re.search(r'<div class="error-summary".*?</div>', page, re.S)
    assert match, "no error summary"
    return match.group(0)


def test_login_refused_shows_a_focused_summary_and_no_autofocus(
    client: FlaskClient, auth: AuthActions
) -> None:
    response = auth.login(demo.PAUL, "not-the-password")
    assert response.status_code == 422
    summary = _summary(response.text)
    assert FOCUSED in summary and "Wrong email or password." in summary
    # autofocus would take the focus back from the summary
    assert "autofocus" not in response.text
    # at the top of the content: before the form
    assert response.text.index(SUMMARY) < response.text.index("<form")


def test_login_page_autofocuses_the_email_when_nothing_was_refused(
    client: FlaskClient,
) -> None:
    page = client.get("/login").text
    assert re.search(r'<input[^>]*autofocus[^>]*name="email"', page) or re.search(
        r'<input[^>]*name="email"[^>]*autofocus', page
    )
    assert SUMMARY not in page


def test_login_missing_fields_link_to_each_field(client: FlaskClient) -> None:
    response = client.post("/login", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 422
    summary = _summary(response.text)
    assert '<a href="#email">' in summary and '<a href="#password">' in summary


def test_password_refused_links_to_its_field(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.PAUL)
    token = csrf_token(client, "/account/password")
    response = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": "not-the-password",
            "new_password": "a-long-new-password",
            "confirm": "a-long-new-password",
        },
    )
    assert response.status_code == 422
    summary = _summary(response.text)
    assert FOCUSED in summary
    assert (
        '<a href="#current_password">That is not your current password.</a>' in summary
    )
    assert 'id="current_password"' in response.text  # the link's target exists


def test_password_changed_message_takes_the_focus(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.PAUL)
    token = csrf_token(client, "/account/password")
    new = "a-long-new-password"
    response = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": demo.PASSWORD,
            "new_password": new,
            "confirm": new,
        },
        follow_redirects=True,
    )
    flash = re.search(r'<p class="flash flash-success"[^>]*>', response.text)
    assert flash and FOCUSED in flash.group(0)


def test_logout_note_leaves_the_focus_to_the_email(
    client: FlaskClient, auth: AuthActions
) -> None:
    # why: on the login page the email's autofocus is what a person needs; the
    # note is a status, read out without the focus
    auth.login(demo.PAUL)
    page = client.get(auth.logout().location).text
    assert "You are logged out." in page
    assert "data-focus" not in page and "autofocus" in page


def test_removal_refused_for_the_last_owner_links_to_the_next_step(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    auth.login(demo.JOHN)
    before = roles_snapshot(db)
    url = f"/orgs/{BEATLES}/roles/{user_by_email(db, demo.JOHN).id}/delete"
    data = {"csrf_token": csrf_token(client, "/orgs"), **guard_of(db, demo.JOHN)}
    response = client.post(url, data=data)
    assert response.status_code == 409
    summary = _summary(response.text)
    assert FOCUSED in summary and "is the last Owner" in summary
    step = (
        f'<a class="next-step" href="/orgs/{BEATLES}/roles">Make someone else an Owner'
    )
    assert step in summary
    assert roles_snapshot(db) == before


def test_removal_refused_in_json_is_plain_text(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    auth.login(demo.JOHN)
    url = f"/orgs/{BEATLES}/roles/{user_by_email(db, demo.JOHN).id}/delete"
    response = client.post(
        url,
        json=guard_of(db, demo.JOHN),
        headers={"X-CSRFToken": csrf_token(client, "/orgs")},
    )
    assert response.status_code == 409 and response.json is not None
    message = response.json["message"]
    assert "is the last Owner" in message and "<" not in message
    assert "Make someone else an Owner first" in message


def test_stale_removal_gets_a_summary_without_a_next_step(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    # a form for a role row that changed meanwhile: the summary says so; there
    # is nothing to link to but the page itself
    auth.login(demo.JOHN)
    ringo = user_by_email(db, demo.RINGO).id
    data = {"csrf_token": csrf_token(client, "/orgs"), "current": "BILLING"}
    data["current_id"] = guard_of(db, demo.RINGO)["current_id"]
    response = client.post(f"/orgs/{BEATLES}/roles/{ringo}/delete", data=data)
    assert response.status_code == 409
    summary = _summary(response.text)
    assert "while you were looking" in summary and "next-step" not in summary


@contextmanager
def _rendered(app: Flask) -> Iterator[list[dict[str, Any]]]:
    """The context of every template rendered inside the block."""
    seen: list[dict[str, Any]] = []

    def record(sender: Flask, template: Any, context: dict[str, Any]) -> None:
        seen.append(context)

    with template_rendered.connected_to(record, app):
        yield seen


def test_role_change_refused_carries_its_next_step(
    app: Flask, client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    # why: the member page's change form (its error summary is the roles
    # helper's) gets the same refusal with its next step; its JSON, plain text
    auth.login(demo.JOHN)
    url = f"/orgs/{BEATLES}/roles/{user_by_email(db, demo.JOHN).id}"
    data = {"csrf_token": csrf_token(client, "/orgs"), **guard_of(db, demo.JOHN)}
    with _rendered(app) as contexts:
        response = client.post(url, data={**data, "name": "MEMBER", "confirm": "yes"})
    assert response.status_code == 409 and "is the last Owner" in response.text
    error = contexts[-1]["error"]
    assert isinstance(error, Refusal) and error.next_step is not None
    assert error.next_step.url == f"/orgs/{BEATLES}/roles"


def test_role_assign_refused_on_the_roles_page_links_nowhere_else(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    # why: a refusal on the roles page links nowhere else. Since issue 19 its
    # form changes no role, so the last owner's refusal (whose next step is the
    # roles page) no longer comes here: its refusal of a member is the one left
    auth.login(demo.JOHN)
    data = {"user_email": demo.JOHN, "name": "MEMBER"}
    with _rendered(app) as contexts:
        response = client.post(
            f"/orgs/{BEATLES}/roles",
            data={"csrf_token": csrf_token(client, "/orgs"), **data},
        )
    assert response.status_code == 409
    assert "is already an Owner here" in response.text
    refused = contexts[-1]["form"].user_email.errors[-1]
    assert isinstance(refused, Refusal) and refused.next_step is None
    assert "next-step" not in response.text


def test_next_step_only_for_whoever_may_take_it(app: Flask, db: Session) -> None:
    john = user_by_email(db, demo.JOHN)
    beatles = organization(db, BEATLES)
    last_owner = roles.LastOwner(john)
    with app.test_request_context(f"/orgs/{BEATLES}"):
        assert next_step(last_owner, beatles, may=lambda action, org: False) is None
        step = next_step(last_owner, beatles, may=lambda a, o: a == "LIST_ROLES")
        assert step is not None and step.url == f"/orgs/{BEATLES}/roles"
        # an error without a next step, and no error at all
        assert next_step(roles.NotAMember(john), beatles, lambda a, o: True) is None
        assert next_step(None, beatles, lambda a, o: True) is None


def test_last_owner_leave_confirmation_links_the_way_out(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    # why: the disabled button's reason says what to do; the link does it
    auth.login(demo.JOHN)
    url = f"/orgs/{BEATLES}/roles/{user_by_email(db, demo.JOHN).id}/delete"
    page = client.get(url).text
    reason = re.search(
        r'<span id="remove-refused">([^<]*)</span> <a href="([^"]+)">', page
    )
    assert reason and "make someone else an Owner" in reason.group(1)
    assert reason.group(2) == f"/orgs/{BEATLES}/roles"
