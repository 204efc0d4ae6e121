"""Where the focus goes, in Chromium: on the error summary after a refused form (and
on its field after a click on the summary's link), on the message after a change,
and on the email field of a login page that refused nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from portal.domain import demo
from portal.domain.models import OrganizationRole, User
from tests.e2e.conftest import LiveServer, log_out, screenshot, sign_in

pytestmark = pytest.mark.e2e

BEATLES = demo.BEATLES_ID


def _set_role(server: LiveServer, email: str, name: str) -> None:
    """Give email the role name in The Beatles, behind the browser's back."""
    with Session(server.app.extensions["portal.engine"]) as session:
        user_id = select(User.id).where(User.email == email).scalar_subquery()
        session.execute(
            update(OrganizationRole)
            .where(
                OrganizationRole.organization_id == BEATLES,
                OrganizationRole.user_id == user_id,
            )
            .values(name=name)
        )
        session.commit()


def test_e2e_refused_password_focuses_the_summary_then_its_field(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.PAUL)
    page.goto(f"{live_server.url}/account/password")
    page.get_by_label("Current password").fill("not-the-password")
    page.get_by_label("New password", exact=True).fill("a-long-new-password")
    page.get_by_label("Repeat the new password").fill("a-long-new-password")
    page.get_by_role("button", name="Change password").click()
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("That is not your current password.")
    screenshot(page, "password-error-summary")
    summary.get_by_role("link", name="That is not your current password.").click()
    expect(page.get_by_label("Current password")).to_be_focused()


def test_e2e_refused_login_focuses_the_summary_not_the_email(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(f"{live_server.url}/login")
    expect(page.get_by_label("Email")).to_be_focused()  # nothing refused yet
    page.get_by_label("Email").fill(demo.PAUL)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Wrong email or password.")
    expect(summary).to_be_focused()


def test_e2e_empty_login_summary_links_focus_each_field(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(f"{live_server.url}/login")
    page.get_by_role("button", name="Log in").click()
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    summary.get_by_role("link").nth(1).click()
    expect(page.get_by_label("Password")).to_be_focused()
    summary.get_by_role("link").nth(0).click()
    expect(page.get_by_label("Email")).to_be_focused()


def test_e2e_logged_out_login_page_keeps_the_focus_on_the_email(
    page: Page, live_server: LiveServer
) -> None:
    # why: the logout note is a status; the person came to log in again
    sign_in(page, live_server, demo.PAUL)
    log_out(page)
    expect(page.get_by_role("status")).to_have_text("You are logged out.")
    expect(page.get_by_label("Email")).to_be_focused()


def test_e2e_last_owner_leaving_is_refused_with_the_way_out(
    page: Page, live_server: LiveServer
) -> None:
    # John opens his leave confirmation while Paul is an owner too; Paul is made
    # a member meanwhile, so John is the last owner when he confirms.
    _set_role(live_server, demo.PAUL, "OWNER")
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{BEATLES}")
    page.get_by_role("link", name="Leave The Beatles").click()
    _set_role(live_server, demo.PAUL, "MEMBER")
    page.get_by_role("button", name="Leave The Beatles").click()
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("john@beatles.com is the last Owner.")
    screenshot(page, "last-owner-leave-refused")
    summary.get_by_role("link", name="Make someone else an Owner").click()
    expect(page).to_have_url(f"{live_server.url}/orgs/{BEATLES}/roles")


def test_e2e_message_of_a_change_takes_the_focus(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{BEATLES}/roles")
    page.locator("summary", has_text="Add people").click()
    # An invitation (issue 19): someone without a role here.
    page.get_by_label("Email address", exact=True).fill(demo.ADMIN)
    page.get_by_label("Role", exact=True).select_option("BILLING")
    page.get_by_role("button", name="Send invitation").click()
    message = page.get_by_role("status")
    expect(message).to_contain_text(demo.ADMIN)
    expect(message).to_be_focused()


def test_e2e_password_changed_message_takes_the_focus(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.PAUL)
    page.goto(f"{live_server.url}/account/password")
    page.get_by_label("Current password").fill(demo.PASSWORD)
    page.get_by_label("New password", exact=True).fill("a-long-new-password")
    page.get_by_label("Repeat the new password").fill("a-long-new-password")
    page.get_by_role("button", name="Change password").click()
    message = page.get_by_role("status")
    expect(message).to_contain_text("Your password was changed.")
    expect(message).to_be_focused()
