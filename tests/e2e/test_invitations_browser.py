"""Invitations in a browser (issue 19): an owner invites someone new, who opens
the mailed link in a browser of their own, sets a password and sees the
organization."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from portal.domain import demo
from tests.e2e.conftest import LiveServer, mailed_invitation, screenshot, sign_in

pytestmark = pytest.mark.e2e

NEWCOMER = "stuart@beatles.com"
PASSWORD = "a long enough passphrase"


def _invite(page: Page, server: LiveServer, email: str, role: str) -> None:
    page.goto(f"{server.url}/orgs/{demo.BEATLES_ID}/roles")
    page.locator("summary", has_text="Add people").click()
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_label("Role", exact=True).select_option(role)
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_contain_text(f"Invitation sent to {email}.")


def test_invitation_new_person_sets_a_password_and_sees_the_organization(
    page: Page, browser: Browser, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    _invite(page, live_server, NEWCOMER, "MEMBER")
    pending = page.get_by_role("table", name="Pending invitations")
    row = pending.get_by_role("row").filter(has_text=NEWCOMER)
    expect(row).to_contain_text("Member")
    expect(row).to_contain_text(demo.JOHN)
    expect(
        row.get_by_role("button", name=f"Resend the invitation to {NEWCOMER}")
    ).to_be_visible()
    screenshot(page, "invitations-pending")

    path = mailed_invitation(live_server, NEWCOMER)
    with browser.new_context() as theirs:
        newcomer = theirs.new_page()
        newcomer.goto(live_server.url + path)
        expect(newcomer.get_by_role("heading", name="Join The Beatles")).to_be_visible()
        expect(newcomer.get_by_text("john@beatles.com invited")).to_be_visible()
        screenshot(newcomer, "invitation-accept")
        newcomer.get_by_label("New password", exact=True).fill(PASSWORD)
        newcomer.get_by_label("Repeat the new password").fill(PASSWORD)
        newcomer.get_by_role("button", name="Accept and create my account").click()
        expect(newcomer.get_by_role("status")).to_have_text(
            "Welcome to The Beatles: you are now a Member there."
        )
        expect(
            newcomer.get_by_role("heading", name="The Beatles", exact=True)
        ).to_be_visible()
        # The link is used up.
        newcomer.goto(live_server.url + path)
        expect(
            newcomer.get_by_role("heading", name="This invitation link does not work")
        ).to_be_visible()

    # The owner sees the newcomer among the people, no longer pending.
    page.reload()
    expect(page.get_by_role("link", name=NEWCOMER, exact=True)).to_be_visible()
    expect(page.get_by_role("table", name="Pending invitations")).to_have_count(0)


def test_invitation_pages_fit_a_phone(
    page: Page, browser: Browser, live_server: LiveServer
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, demo.JOHN)
    _invite(page, live_server, NEWCOMER, "BILLING")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "invitations-pending-phone")
    with browser.new_context(viewport={"width": 390, "height": 844}) as theirs:
        newcomer = theirs.new_page()
        newcomer.goto(live_server.url + mailed_invitation(live_server, NEWCOMER))
        expect(newcomer.get_by_role("heading", name="Join The Beatles")).to_be_visible()
        assert newcomer.evaluate("document.documentElement.scrollWidth") <= 390
        screenshot(newcomer, "invitation-accept-phone")
