"""The header's menus (account, switcher), the list searches and the numbered
pager, in a browser: at a desktop's width and a phone's."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, ViewportSize, expect
from sqlalchemy.orm import Session

from portal.domain import demo
from tests.e2e.conftest import (
    LiveServer,
    account_toggle,
    open_account_menu,
    screenshot,
    sign_in,
)
from tests.e2e.test_a11y import run_axe
from tests.factories import (
    bulk_organizations,
    bulk_repositories,
    bulk_roles,
    make_user,
)

pytestmark = pytest.mark.e2e

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}


def _switcher(page: Page) -> Locator:
    return page.locator("details.switcher")


def _no_sideways_scrolling(page: Page) -> None:
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert page.evaluate("document.documentElement.scrollWidth") <= width


# --- the account menu ---------------------------------------------------------------


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_nav_account_menu_reaches_the_password_page_and_logs_out(
    page: Page, live_server: LiveServer, size: ViewportSize
) -> None:
    page.set_viewport_size(size)
    sign_in(page, live_server, demo.PAUL)
    toggle = account_toggle(page)
    expect(toggle).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_hidden()  # in the menu
    panel = open_account_menu(page)
    expect(panel.get_by_text(f"Signed in as {demo.PAUL}")).to_be_visible()
    _no_sideways_scrolling(page)
    screenshot(page, f"nav-account-menu-{'phone' if size is PHONE else 'desktop'}")
    panel.get_by_role("link", name="Change your password").click()
    expect(page.get_by_role("heading", name="Change password")).to_be_visible()
    panel = open_account_menu(page)
    panel.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_have_text("You are logged out.")
    expect(account_toggle(page)).to_have_count(0)
    page.goto(f"{live_server.url}/orgs")
    expect(page).to_have_url(re.compile(r"/login\?next=/orgs$"))


def test_nav_account_menu_shows_the_email_on_a_desktop_and_account_on_a_phone(
    page: Page, live_server: LiveServer
) -> None:
    page.set_viewport_size(DESKTOP)
    sign_in(page, live_server, demo.JOHN)
    expect(account_toggle(page)).to_have_text(f"AccountSigned in as {demo.JOHN}")
    expect(account_toggle(page).get_by_text(demo.JOHN)).to_be_visible()
    expect(account_toggle(page).get_by_text("Account", exact=True)).to_be_hidden()
    page.set_viewport_size(PHONE)
    expect(account_toggle(page).get_by_text("Account", exact=True)).to_be_visible()
    expect(account_toggle(page).get_by_text(demo.JOHN)).to_be_hidden()


def test_nav_account_menu_closes_on_escape_and_outside_click(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    panel = open_account_menu(page)
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(account_toggle(page)).to_be_focused()
    panel = open_account_menu(page)
    page.get_by_role("heading", name="Your organizations").click()
    expect(panel).to_be_hidden()


# --- the switcher -------------------------------------------------------------------


def test_nav_switcher_is_labelled_with_the_current_organization(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    toggle = _switcher(page).locator("summary")
    expect(toggle).to_have_text("Switch organization")
    page.goto(f"{live_server.url}/orgs/{demo.BEATLES_ID}/repos")
    expect(toggle.locator(".switcher-label")).to_have_text("The Beatles")
    expect(toggle.locator(".switcher-label")).to_be_visible()
    expect(toggle).to_have_text("Switch organization, now in The Beatles")


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_nav_switcher_closes_on_escape_and_on_a_click_outside(
    page: Page, live_server: LiveServer, size: ViewportSize
) -> None:
    page.set_viewport_size(size)
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{demo.BEATLES_ID}")
    switcher = _switcher(page)
    menu = switcher.get_by_role("list", name="Organizations to switch to")
    toggle = switcher.locator("summary")
    toggle.click()
    expect(menu).to_be_visible()
    _no_sideways_scrolling(page)
    screenshot(page, f"nav-switcher-open-{'phone' if size is PHONE else 'desktop'}")
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(toggle).to_be_focused()
    toggle.click()
    expect(menu).to_be_visible()
    page.locator("main h1").click()
    expect(menu).to_be_hidden()
    # Opening one menu closes the other.
    toggle.click()
    open_account_menu(page)
    expect(menu).to_be_hidden()


def test_nav_switcher_finds_an_organization_past_the_first_ten(
    page: Page, live_server: LiveServer
) -> None:
    with Session(live_server.app.extensions["portal.engine"]) as session:
        user = make_user(session)
        email = user.email
        org_ids = bulk_organizations(session, 30, name="Band {i:02}")
        bulk_roles(session, [(user.id, org_id, "MEMBER") for org_id in org_ids])
        session.commit()
    sign_in(page, live_server, email)
    switcher = _switcher(page)
    switcher.locator("summary").click()
    finder = switcher.get_by_label("Find an organization")
    expect(finder).to_be_visible()
    screenshot(page, "nav-switcher-finder")
    finder.fill("band 27")
    finder.press("Enter")
    expect(page).to_have_url(re.compile(r"/orgs\?q=band\+27$"))
    main = page.locator("main")
    # The row, "Clear", and "Create an organization" above the list.
    expect(main.get_by_role("link")).to_have_count(3)
    expect(main.get_by_role("link", name="Band 27")).to_be_visible()


# --- the list searches and the pager ------------------------------------------------


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_nav_organization_list_search_and_roles(
    page: Page, live_server: LiveServer, size: ViewportSize
) -> None:
    with Session(live_server.app.extensions["portal.engine"]) as session:
        user = make_user(session)
        email = user.email
        names = ["Abbey Road Studios", "Apple Corps", "Capitol Records", "EMI"]
        org_ids = [bulk_organizations(session, 1, name=name)[0] for name in names]
        bulk_roles(
            session,
            [
                (user.id, org_id, role)
                for org_id, role in zip(
                    org_ids, ["OWNER", "MEMBER", "BILLING", "MEMBER"], strict=True
                )
            ],
        )
        session.commit()
    page.set_viewport_size(size)
    sign_in(page, live_server, email)
    main = page.locator("main")
    expect(main.get_by_role("link", name="Capitol Records")).to_contain_text(
        "Billing manager"
    )
    search = page.get_by_role("search", name="Find organizations")
    search.get_by_label("Name contains").fill("CO")
    search.get_by_role("button", name="Search").click()
    expect(page.get_by_text("2 matching organizations")).to_be_visible()
    expect(main.locator(".org-link-name")).to_have_text(
        ["Apple Corps", "Capitol Records"]
    )
    _no_sideways_scrolling(page)
    screenshot(page, f"nav-orgs-search-{'phone' if size is PHONE else 'desktop'}")
    search.get_by_label("Name contains").fill("nothing like it")
    search.get_by_role("button", name="Search").click()
    expect(page.get_by_text("None of your organizations has a name")).to_be_visible()
    page.get_by_role("link", name="Clear the search").click()
    expect(main.locator(".org-link-name")).to_have_count(4)


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_nav_numbered_pager_jumps_to_a_page_and_keeps_the_search(
    page: Page, live_server: LiveServer, size: ViewportSize
) -> None:
    with Session(live_server.app.extensions["portal.engine"]) as session:
        (org_id,) = bulk_organizations(session, 1, name="Big Org {n}")
        bulk_repositories(session, org_id, 5_000, name="repo {i:04}")
        member = make_user(session)
        email = member.email
        bulk_roles(session, [(member.id, org_id, "MEMBER")])
        session.commit()
    page.set_viewport_size(size)
    sign_in(page, live_server, email)
    page.goto(f"{live_server.url}/orgs/{org_id}/repos")
    pager = page.get_by_role("navigation", name="Pages of repositories")
    pager.get_by_role("link", name="Page 100").click()  # the last, in one click
    expect(
        page.get_by_text("Showing 4,951–5,000 of 5,000 repositories")
    ).to_be_visible()
    pager.get_by_role("link", name="Page 98").click()
    expect(pager.locator("[aria-current=page]")).to_have_text("98")
    _no_sideways_scrolling(page)
    screenshot(page, f"nav-repos-pager-{'phone' if size is PHONE else 'desktop'}")
    search = page.get_by_role("search", name="Find repositories")
    search.get_by_label("Name contains").fill("repo 1")
    search.get_by_role("button", name="Search").click()
    expect(
        page.get_by_text("Showing 1–50 of 1,000 matching repositories")
    ).to_be_visible()
    pager.get_by_role("link", name="Page 20").click()
    expect(page).to_have_url(re.compile(r"[?&]q=repo\+1(&|$)"))
    expect(page).to_have_url(re.compile(r"[?&]page=20(&|$)"))
    expect(page.get_by_role("cell", name="repo 1999")).to_be_visible()


def test_nav_switcher_finder_narrows_the_list_as_one_types(
    page: Page, live_server: LiveServer
) -> None:
    with Session(live_server.app.extensions["portal.engine"]) as session:
        user = make_user(session)
        email = user.email
        org_ids = bulk_organizations(session, 30, name="Band {i:02}")
        org_ids += bulk_organizations(session, 12, name="Choir {i:02}")
        bulk_roles(session, [(user.id, org_id, "MEMBER") for org_id in org_ids])
        session.commit()
    sign_in(page, live_server, email)
    switcher = _switcher(page)
    switcher.locator("summary").click()
    menu = switcher.get_by_role("list", name="Organizations to switch to")
    expect(menu.get_by_role("link")).to_have_count(10)
    finder = switcher.get_by_label("Find an organization")
    finder.fill("choir 1")  # Choir 10, Choir 11: past the first ten by name
    expect(menu.get_by_role("link")).to_have_text(["Choir 10", "Choir 11"])
    expect(switcher.get_by_role("status")).to_have_text("2 found")
    expect(switcher.get_by_role("link", name="See all")).to_be_hidden()
    screenshot(page, "nav-switcher-finder-typed")
    finder.fill("choir")
    expect(switcher.get_by_role("status")).to_have_text("12 found")
    expect(menu.get_by_role("link")).to_have_count(10)
    switcher.get_by_role("link", name="See all 12 found").click()
    expect(page).to_have_url(re.compile(r"/orgs\?q=choir$"))
    page.locator("details.switcher summary").click()
    finder = page.locator("details.switcher").get_by_label("Find an organization")
    finder.fill("zzz")
    expect(page.locator("details.switcher").get_by_role("status")).to_have_text(
        "No organization of yours has a name that contains that."
    )
    finder.fill("")
    expect(
        page.locator("details.switcher").get_by_role("list").get_by_role("link")
    ).to_have_count(10)


def test_nav_switcher_finder_searches_a_name_typed_before_the_script_ran(
    page: Page, live_server: LiveServer
) -> None:
    # why: portal.js is deferred; a name typed while it loads (a slow network, or
    # a test that types as soon as the header shows) fired no listener and was
    # never searched (a CI failure). The script is held here until it is typed.
    with Session(live_server.app.extensions["portal.engine"]) as session:
        user = make_user(session)
        email = user.email
        org_ids = bulk_organizations(session, 30, name="Band {i:02}")
        org_ids += bulk_organizations(session, 12, name="Choir {i:02}")
        bulk_roles(session, [(user.id, org_id, "MEMBER") for org_id in org_ids])
        session.commit()
    sign_in(page, live_server, email)
    held: list[Route] = []
    page.route("**/static/portal.js", lambda route: held.append(route))
    page.goto(f"{live_server.url}/orgs", wait_until="commit")
    switcher = _switcher(page)
    switcher.locator("summary").click()
    switcher.get_by_label("Find an organization").fill("choir 1")
    assert len(held) == 1, "portal.js was not asked for while the name was typed"
    held[0].continue_()
    menu = switcher.get_by_role("list", name="Organizations to switch to")
    expect(menu.get_by_role("link")).to_have_text(["Choir 10", "Choir 11"])
    expect(switcher.get_by_role("status")).to_have_text("2 found")


def test_nav_open_menus_pass_axe(browser: Browser, live_server: LiveServer) -> None:
    # why: the a11y sweep opens only the switcher; the account menu and the
    # finder are checked open here (a context that lets axe-core in past the CSP)
    page = browser.new_context(bypass_csp=True).new_page()
    with Session(live_server.app.extensions["portal.engine"]) as session:
        user = make_user(session)
        email = user.email
        org_ids = bulk_organizations(session, 12, name="Axe {i:02}")
        bulk_roles(session, [(user.id, org_id, "OWNER") for org_id in org_ids])
        bulk_repositories(session, org_ids[0], 120, name="axe {i:03}")
        session.commit()
    sign_in(page, live_server, email)
    page.goto(f"{live_server.url}/orgs/{org_ids[0]}/repos?q=axe&page=2")
    open_account_menu(page)
    assert run_axe(page) == []
    _switcher(page).locator("summary").click()
    expect(_switcher(page).get_by_label("Find an organization")).to_be_visible()
    assert run_axe(page) == []
    page.context.close()
