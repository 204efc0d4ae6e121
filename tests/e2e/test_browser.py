"""Portal in headless Chromium: what people see and do, through the real UI."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from portal.domain import demo
from tests.e2e.conftest import (
    LiveServer,
    account_toggle,
    log_out,
    login,
    open_account_menu,
    screenshot,
    sign_in,
)
from tests.factories import (
    bulk_organizations,
    bulk_repositories,
    bulk_roles,
    make_user,
)

pytestmark = pytest.mark.e2e


def test_e2e_login_form_leads_to_my_organizations(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(live_server.url)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    screenshot(page, "login")
    login(page, live_server, demo.PAUL)
    expect(page.get_by_role("heading", name="Your organizations")).to_be_visible()
    expect(page.get_by_role("link", name="The Beatles")).to_be_visible()
    expect(page.get_by_role("link", name="Monsters Inc.")).to_have_count(0)
    screenshot(page, "organizations")


def test_e2e_wrong_password_shows_one_generic_message(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Email").fill(demo.PAUL)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Log in").click()
    summary = page.get_by_role("alert", name="There is a problem")
    expect(summary.get_by_role("listitem")).to_have_text(["Wrong email or password."])
    screenshot(page, "login-error")


def test_e2e_member_sees_repositories_but_not_billing_or_role_form(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.PAUL)
    page.get_by_role("link", name="The Beatles").click()
    expect(page.get_by_role("heading", name="The Beatles", exact=True)).to_be_visible()
    screenshot(page, "overview-member")
    tabs = page.get_by_role("navigation", name="The Beatles sections")
    expect(tabs.get_by_role("link", name="Billing")).to_have_count(0)
    expect(page.get_by_role("link", name="Billing")).to_have_count(0)
    tabs.get_by_role("link", name="Repositories").click()
    expect(page.get_by_role("cell", name="Abbey Road")).to_be_visible()
    screenshot(page, "repositories")
    tabs.get_by_role("link", name="People").click()
    expect(page.get_by_role("cell", name=demo.JOHN)).to_be_visible()
    expect(page.locator("summary", has_text="Add people")).to_have_count(0)
    expect(page.get_by_label("Email address", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Send invitation")).to_have_count(0)
    screenshot(page, "roles-member")


def test_e2e_owner_assigns_a_role_with_the_form(
    page: Page, live_server: LiveServer
) -> None:
    # Issue 19: the form invites; the invitation waits under "Pending
    # invitations" until accepted (tests/e2e/test_invitations_browser.py).
    with Session(live_server.app.extensions["portal.engine"]) as session:
        email = make_user(session).email  # a unique one
        session.commit()
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{demo.BEATLES_ID}/roles")
    page.locator("summary", has_text="Add people").click()
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_label("Role", exact=True).select_option("BILLING")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Invitation sent to {email}. The link in it works for 7 days; it is listed"
        " under Pending invitations until then."
    )
    pending = page.get_by_role("table", name="Pending invitations")
    row = pending.get_by_role("row").filter(has_text=email)
    expect(row.get_by_role("cell").nth(1)).to_have_text("Billing manager")
    screenshot(page, "roles-owner-assigned")


def test_e2e_owner_reads_the_change_in_the_audit_log_on_a_phone(
    page: Page, live_server: LiveServer
) -> None:
    with Session(live_server.app.extensions["portal.engine"]) as session:
        email = make_user(session).email  # a unique one
        session.commit()
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{demo.BEATLES_ID}/roles")
    page.locator("summary", has_text="Add people").click()
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_label("Role", exact=True).select_option("MEMBER")
    page.get_by_role("button", name="Send invitation").click()
    tabs = page.get_by_role("navigation", name="The Beatles sections")
    tabs.get_by_role("link", name="Audit log").click()
    row = page.get_by_role("row").filter(has_text=email)
    expect(row.get_by_role("cell").nth(1)).to_have_text(demo.JOHN)
    expect(row.get_by_role("cell").nth(2)).to_have_text(f"invited {email} as Member")
    # Three columns of emails, still nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "audit-phone")


def test_e2e_owner_sees_a_clear_error_for_an_unknown_email(
    page: Page, live_server: LiveServer
) -> None:
    # An unknown email is invited like any other (issue 19); what is refused
    # is what is not an email address.
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{demo.BEATLES_ID}/roles")
    page.locator("summary", has_text="Add people").click()
    page.get_by_label("Email address", exact=True).fill("nobody@")
    page.get_by_role("button", name="Send invitation").click()
    message = "That is not an email address (name@example.com)."
    # In the error summary at the top, and as the field's own description.
    expect(page.get_by_role("alert").get_by_role("link", name=message)).to_be_visible()
    expect(
        page.get_by_label("Email address", exact=True)
    ).to_have_accessible_description(message)
    expect(page.get_by_label("Email address", exact=True)).to_have_value("nobody@")
    screenshot(page, "roles-owner-error")


def test_e2e_forbidden_page_renders_in_the_layout(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.PAUL)
    response = page.goto(f"{live_server.url}/orgs/{demo.BEATLES_ID}/billing")
    assert response is not None and response.status == 403
    expect(
        page.get_by_role("heading", name="You don't have access to this page")
    ).to_be_visible()
    expect(account_toggle(page)).to_be_visible()
    # The refusal names the organization, what was refused in words, and who to
    # ask (Paul may see who is here), and leads back to it.
    expect(page.get_by_text("does not let you see the billing details")).to_be_visible()
    expect(page.get_by_text(demo.JOHN)).to_be_visible()
    page.get_by_role("link", name="Back to The Beatles").click()
    expect(page.get_by_role("heading", name="The Beatles", exact=True)).to_be_visible()


def test_e2e_forbidden_screenshot(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server, demo.PAUL)
    page.goto(f"{live_server.url}/orgs/{demo.BEATLES_ID}/billing")
    screenshot(page, "forbidden")
    page.goto(f"{live_server.url}/orgs/{demo.MONSTERS_ID}")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    screenshot(page, "not-found")


def test_e2e_logout_returns_to_login(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server, demo.GEORGE)
    log_out(page)
    expect(page.get_by_role("status")).to_have_text("You are logged out.")
    page.goto(f"{live_server.url}/orgs")
    expect(page).to_have_url(re.compile(r"/login\?next=/orgs$"))


def test_e2e_password_change_from_the_account_link(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.RINGO)
    open_account_menu(page).get_by_role("link", name="Change your password").click()
    expect(page.get_by_role("heading", name="Change password")).to_be_visible()
    page.get_by_label("Current password").fill(demo.PASSWORD)
    page.get_by_label("New password", exact=True).fill("short")
    page.get_by_label("Repeat the new password").fill("short")
    page.get_by_role("button", name="Change password").click()
    # said twice: in the summary at the top (a link to the field), and at the field
    summary = page.get_by_role("alert", name="There is a problem")
    expect(summary.get_by_role("link")).to_have_text(
        ["Use between 12 and 128 characters."]
    )
    expect(page.locator("#new_password-error")).to_have_text(
        "Use between 12 and 128 characters."
    )
    screenshot(page, "password-error")
    page.get_by_label("Current password").fill(demo.PASSWORD)
    page.get_by_label("New password", exact=True).fill("yellow submarine 1969")
    page.get_by_label("Repeat the new password").fill("yellow submarine 1969")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_have_text(
        "Your password was changed. Any other sessions were logged out."
    )
    log_out(page)
    login(page, live_server, demo.RINGO, "yellow submarine 1969")


def test_e2e_phone_width_roles_page(page: Page, live_server: LiveServer) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{demo.BEATLES_ID}/roles")
    page.locator("summary", has_text="Add people").click()
    expect(page.get_by_role("button", name="Send invitation")).to_be_visible()
    # Nothing wider than the screen: no sideways scrolling on a phone.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    screenshot(page, "roles-phone")


def test_e2e_pager_walks_the_repositories_of_an_organization(
    page: Page, live_server: LiveServer
) -> None:
    with Session(live_server.app.extensions["portal.engine"]) as session:
        (org_id,) = bulk_organizations(session, 1, name="Paged Org {n}")
        bulk_repositories(session, org_id, 120, name="repo {i:03}")
        member = make_user(session)
        email = member.email
        bulk_roles(session, [(member.id, org_id, "MEMBER")])
        session.commit()
    sign_in(page, live_server, email)
    page.goto(f"{live_server.url}/orgs/{org_id}/repos")
    pager = page.get_by_role("navigation", name="Pages of repositories")
    expect(page.get_by_text("Showing 1–50 of 120 repositories")).to_be_visible()
    expect(pager.get_by_text("Page 1 of 3")).to_be_visible()
    expect(pager.get_by_role("link", name="Previous")).to_have_count(0)
    pager.get_by_role("link", name="Next").click()
    expect(page.get_by_text("Showing 51–100 of 120 repositories")).to_be_visible()
    expect(page.get_by_role("cell", name="repo 050")).to_be_visible()
    expect(page.get_by_role("cell", name="repo 049")).to_have_count(0)
    screenshot(page, "repositories-paged")
    pager.get_by_role("link", name="Next").click()
    expect(pager.get_by_text("Page 3 of 3")).to_be_visible()
    expect(page.get_by_role("cell", name="repo 119")).to_be_visible()
    expect(page.get_by_role("row")).to_have_count(21)  # the header and 20 rows
    expect(pager.get_by_role("link", name="Next")).to_have_count(0)
    pager.get_by_role("link", name="Previous").click()
    expect(pager.get_by_text("Page 2 of 3")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/repos\?page=2$"))


# --- how the first pages look: colours and sizes as the browser computes them ------

ERROR_INK = "rgb(161, 31, 31)"  # --err-ink in portal.css


def _style(page: Page, selector: str, prop: str) -> str:
    """The computed value of a CSS property of the first element matching selector."""
    value: str = page.locator(selector).first.evaluate(
        f"e => getComputedStyle(e).getPropertyValue('{prop}')"
    )
    return value


def test_e2e_last_owner_reason_is_a_neutral_note(
    page: Page, live_server: LiveServer
) -> None:
    # why: on the overview the last owner gets no disabled button, but the reason
    # in a quiet sentence and a link to the way out
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{demo.BEATLES_ID}")
    expect(page.get_by_role("button", name=re.compile("Leave"))).to_have_count(0)
    leaving = page.locator(".overview-leave")
    expect(leaving).to_contain_text(
        "You are the last Owner of The Beatles: make someone else an Owner before"
        " you leave."
    )
    assert _style(page, ".overview-leave .hint", "color") != ERROR_INK
    leaving.get_by_role("link", name="Make someone else an Owner").click()
    expect(page).to_have_url(f"{live_server.url}/orgs/{demo.BEATLES_ID}/roles")


def test_e2e_leave_is_a_quiet_link_until_the_confirmation(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.PAUL)
    page.goto(f"{live_server.url}/orgs/{demo.BEATLES_ID}")
    leave = page.get_by_role("link", name="Leave The Beatles")
    assert leave.evaluate("e => getComputedStyle(e).color") == ERROR_INK
    # a link in a sentence, not a button: no box of its own
    assert leave.evaluate("e => getComputedStyle(e).display") == "inline"
    leave.click()
    final = page.get_by_role("button", name="Leave The Beatles")
    assert final.evaluate("e => getComputedStyle(e).backgroundColor") == ERROR_INK


@pytest.mark.parametrize("width", [1100, 390])
def test_e2e_member_page_role_choice_fits_and_describes_each_role(
    page: Page, live_server: LiveServer, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{demo.BEATLES_ID}/roles")
    page.get_by_role("table", name="People").get_by_role(
        "link", name=demo.RINGO, exact=True
    ).click()
    group = page.get_by_role("group", name="Choose their role")
    expect(group.get_by_role("radio")).to_have_count(3)
    # Each role's one-line description is the radio button's description.
    owner = group.get_by_role("radio", name="Owner", exact=True)
    expect(owner).to_have_accessible_description(re.compile("^Does everything"))
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_e2e_roles_table_gives_the_email_the_room(
    page: Page, live_server: LiveServer
) -> None:
    page.set_viewport_size({"width": 1100, "height": 900})
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{demo.BEATLES_ID}/roles")
    members = page.get_by_role("table", name="People")
    email = members.get_by_role("columnheader", name="Email").bounding_box()
    role = members.get_by_role("columnheader", name="Role").bounding_box()
    assert email is not None and role is not None
    # The role column holds a select and its button; the email the rest.
    assert role["width"] < 300 < 450 < email["width"]
