"""Accessibility in Chromium: axe-core on every page for each role, phone width,
the keyboard (every control reachable with Tab, with a visible focus), form errors
tied to their fields, and the header's organization switcher by keyboard alone.

axe-core comes from the npm registry at a pinned version, integrity-checked, put
in place by `make browser` (scripts/ensure-axe.sh): $PORTAL_AXE_CORE if set, else
<venv>/axe-core/axe.min.js. A per page x role summary of every violation (minor
and moderate included) is written to test-artifacts/axe-report.json.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect
from sqlalchemy import update
from sqlalchemy.orm import Session

from portal.domain import demo
from portal.domain.models import OrganizationRole, User
from portal.web.switcher import SWITCHER_SIZE
from tests.e2e.conftest import (
    LiveServer,
    mailed_invitation,
    screenshot,
    serving,
    sign_in,
)
from tests.factories import bulk_organizations, bulk_roles
from tests.routes import ACTORS, NO, OK, pages

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# Read at import: the suite's autouse fixture clears PORTAL_* variables per test.
AXE_CANDIDATES = [Path(p) for p in [os.environ.get("PORTAL_AXE_CORE", "")] if p] + [
    Path(sys.prefix) / "axe-core" / "axe.min.js",
    ROOT / ".venv" / "axe-core" / "axe.min.js",
]
REPORT = ROOT / "test-artifacts" / "axe-report.json"
PHONE: ViewportSize = {"width": 390, "height": 844}
BLOCKING = {"serious", "critical"}
IMPACTS = ("critical", "serious", "moderate", "minor")
MISSING = 999_999  # an organization id that does not exist: the 404 page


def _user_id(email: str) -> int:
    """A demo user's id (inserted in demo.USERS order on a fresh database)."""
    return demo.USERS.index(email) + 1


def axe_script() -> Path:
    for path in AXE_CANDIDATES:
        if path.is_file():
            return path
    pytest.fail(
        "axe-core is missing: run `make browser` (scripts/ensure-axe.sh), or set"
        f" PORTAL_AXE_CORE. Looked in: {', '.join(map(str, AXE_CANDIDATES))}"
    )


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """Contexts that let add_script_tag inject axe-core: the app's CSP allows no
    inline script, rightly (tests/test_security.py checks it)."""
    return {**browser_context_args, "bypass_csp": True}


@pytest.fixture
def demo_server(db_url: str) -> Iterator[LiveServer]:
    """Portal as `make run` serves it: the demo accounts on the login page."""
    with serving(db_url, DEMO_ACCOUNTS=True) as server:
        yield server


def open_switcher(page: Page) -> None:
    """Open the header's organization switcher, if the page has one (axe checks
    only what is shown)."""
    page.evaluate(
        "document.querySelectorAll('details.switcher').forEach(d => d.open = true)"
    )


def run_axe(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as shown."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(axe_script()))
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']}))"
        ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " targets: v.nodes.map(n => n.target.join(' '))}))"
    )
    return list(result)


def record(actor: str, results: dict[str, list[dict[str, Any]]]) -> None:
    """Merge actor's per-page violations into test-artifacts/axe-report.json."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    report[actor] = {
        path: {
            "by_impact": {
                impact: sum(1 for v in violations if v["impact"] == impact)
                for impact in IMPACTS
            },
            "violations": violations,
        }
        for path, violations in results.items()
    }
    REPORT.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


def pages_for(actor: str) -> list[tuple[str, int]]:
    """(path, status) of every page actor can open, and the 403/404 pages they
    meet: tests/routes.py pages(), their own member and leave pages, the 404
    page, and a 403 page where the matrix gives them one."""
    email = ACTORS[actor]
    paths = [(p.path, OK) for p in pages() if p.route.expected[actor] == OK]
    if email is not None and any(email in people for people in demo.ROLES.values()):
        own = f"/orgs/{demo.BEATLES_ID}/roles/{_user_id(email)}"
        paths += [(own, OK), (f"{own}/delete", OK)]
    refused = [p.path for p in pages() if p.route.expected[actor] == NO]
    paths += [(path, NO) for path in refused[:1]]
    paths.append((f"/orgs/{MISSING}", 404))
    return list(dict.fromkeys(paths))


def _describe(path: str, actor: str, violations: list[dict[str, Any]]) -> list[str]:
    return [
        f"{path} as {actor}: {v['id']} ({v['impact']}) {v['help']} at"
        f" {'; '.join(v['targets'][:5])}"
        for v in violations
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("actor", ["owner", "member", "billing", "no_role"])
def test_a11y_axe_finds_nothing_serious_on_any_page(
    page: Page, demo_server: LiveServer, actor: str
) -> None:
    email = ACTORS[actor]
    assert email is not None
    results: dict[str, list[dict[str, Any]]] = {}
    page.goto(f"{demo_server.url}/login")
    results["/login (demo accounts listed)"] = run_axe(page)
    sign_in(page, demo_server, email)
    for path, status in pages_for(actor):
        response = page.goto(demo_server.url + path)
        assert response is not None and response.status == status, path
        open_switcher(page)
        results[path if status == OK else f"{path} ({status})"] = run_axe(page)
    if actor == "owner":
        results.update(_owner_confirmation_pages(page, demo_server))
        results.update(_switcher_with_more(page, demo_server))
    record(actor, results)
    problems = [
        line
        for path, violations in results.items()
        for line in _describe(path, actor, violations)
    ]
    assert not problems, "serious or critical axe violations:\n" + "\n".join(problems)


def _owner_confirmation_pages(
    page: Page, server: LiveServer
) -> dict[str, list[dict[str, Any]]]:
    """axe on the owner's confirmation pages: demoting oneself while another
    owner exists, and removing someone."""
    with Session(server.app.extensions["portal.engine"]) as session:
        session.execute(
            update(OrganizationRole)
            .where(
                OrganizationRole.user_id == _user_id(demo.RINGO),
                OrganizationRole.organization_id == demo.BEATLES_ID,
            )
            .values(name="OWNER")
        )
        session.commit()
        assert session.get(User, _user_id(demo.JOHN)) is not None
    found = {}
    own = f"/orgs/{demo.BEATLES_ID}/roles/{_user_id(demo.JOHN)}"
    page.goto(server.url + own)
    page.get_by_role("radio", name="Member", exact=True).check()
    page.get_by_role("button", name="Change role").click()
    expect(
        page.get_by_role("heading", name="Change your own role to MEMBER?")
    ).to_be_visible()
    found[f"{own} (confirm demotion)"] = run_axe(page)
    ringo = f"/orgs/{demo.BEATLES_ID}/roles/{_user_id(demo.RINGO)}/delete"
    page.goto(server.url + ringo)
    found[ringo] = run_axe(page)
    return found


def _switcher_with_more(
    page: Page, server: LiveServer
) -> dict[str, list[dict[str, Any]]]:
    """axe on a page whose switcher is full: the first organizations by name,
    the current one, and "See all organizations"."""
    with Session(server.app.extensions["portal.engine"]) as session:
        org_ids = bulk_organizations(session, SWITCHER_SIZE + 1, name="Axe {i:02}")
        bulk_roles(session, [(_user_id(demo.JOHN), i, "MEMBER") for i in org_ids])
        session.commit()
    path = f"/orgs/{demo.BEATLES_ID}"
    page.goto(server.url + path)
    open_switcher(page)
    expect(page.get_by_role("link", name="See all organizations")).to_be_visible()
    return {f"{path} (switcher full)": run_axe(page)}


# --- phone width --------------------------------------------------------------

MAIN_PAGES = [p.path for p in pages() if p.route.expected["owner"] == OK]


def _no_sideways_scroll(page: Page) -> None:
    width, viewport = page.evaluate(
        "[document.scrollingElement.scrollWidth, window.innerWidth]"
    )
    assert width <= viewport, f"{page.url}: {width}px wide on a {viewport}px screen"


def test_a11y_phone_width_never_scrolls_sideways(
    page: Page, demo_server: LiveServer
) -> None:
    page.set_viewport_size(PHONE)
    page.goto(f"{demo_server.url}/login")
    _no_sideways_scroll(page)
    screenshot(page, "login-demo-accounts-phone")
    sign_in(page, demo_server, demo.JOHN)
    for path in [*MAIN_PAGES, f"/orgs/{MISSING}"]:
        page.goto(demo_server.url + path)
        _no_sideways_scroll(page)
        open_switcher(page)  # the open menu must fit too
        _no_sideways_scroll(page)
    page.goto(f"{demo_server.url}/orgs/{demo.BEATLES_ID}")
    open_switcher(page)
    screenshot(page, "switcher-phone")


# --- the keyboard -------------------------------------------------------------

# Every visible control that takes the focus, each tagged with its index.
_TAG_CONTROLS = """() => {
  const selector = 'a[href], button:not([disabled]), summary, select:not([disabled]),'
    + ' input:not([type=hidden]):not([disabled]), textarea:not([disabled])';
  const shown = el => el.getClientRects().length > 0
    && getComputedStyle(el).visibility !== 'hidden'
    && !el.closest('details:not([open]) > :not(summary)');
  // A radio group is one Tab stop (its checked button; arrows move within it).
  const tabStop = el => el.type !== 'radio' || el.checked
    || !(el.form || document).querySelector(
      `input[type=radio][name="${el.name}"]:checked`);
  const controls = [...document.querySelectorAll(selector)]
    .filter(shown).filter(tabStop);
  controls.forEach((el, i) => el.dataset.a11y = String(i));
  return controls.map(el => el.outerHTML.slice(0, 120));
}"""

# The focused element's tag and whether its focus is drawn (outline or shadow).
_FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  return {index: el.dataset.a11y ?? null, html: el.outerHTML.slice(0, 120),
          visible: outline || style.boxShadow !== 'none'};
}"""


# Move the keyboard's starting point to the top of the page (an autofocus field
# would otherwise start Tab in the middle): focus an unfocusable-by-Tab marker
# placed first in the body.
_FROM_THE_TOP = """() => {
  const start = document.createElement('span');
  start.tabIndex = -1;
  document.body.prepend(start);
  start.focus();
}"""


def tab_through(page: Page) -> tuple[list[str], set[str]]:
    """Tab from the top of the page to its end: the controls shown, and the
    indexes of those the focus reached (asserting each shows a visible focus)."""
    controls = page.evaluate(_TAG_CONTROLS)
    reached: set[str] = set()
    page.evaluate(_FROM_THE_TOP)
    for _ in range(len(controls) + 5):
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUSED)
        if focused is None:
            break  # past the last control
        assert focused["visible"], f"{page.url}: no visible focus on {focused['html']}"
        if focused["index"] is not None:
            if focused["index"] in reached:
                break
            reached.add(focused["index"])
    return controls, reached


@pytest.mark.parametrize("actor", ["owner", "member", "no_role"])
def test_a11y_every_control_is_reachable_with_tab_and_shows_its_focus(
    page: Page, live_server: LiveServer, actor: str
) -> None:
    email = ACTORS[actor]
    assert email is not None
    page.goto(f"{live_server.url}/login")
    controls, reached = tab_through(page)
    assert reached == {str(i) for i in range(len(controls))}
    sign_in(page, live_server, email)
    for path in [p.path for p in pages() if p.route.expected[actor] == OK]:
        page.goto(live_server.url + path)
        open_switcher(page)  # its links must be reachable too
        controls, reached = tab_through(page)
        missed = [controls[i] for i in range(len(controls)) if str(i) not in reached]
        assert not missed, f"{path}: not reachable with Tab: {missed}"


def test_a11y_switcher_works_by_keyboard_alone(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.PAUL)
    switcher = page.locator("details.switcher")
    toggle = switcher.locator("summary")
    menu = switcher.get_by_role("list", name="Organizations to switch to")
    expect(menu).to_be_hidden()
    # Tab to the toggle: skip link, brand, Organizations, then the switcher.
    page.evaluate(_FROM_THE_TOP)
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.tagName") == "SUMMARY":
            break
    expect(toggle).to_be_focused()
    expect(toggle).to_have_text("Switch organization")
    page.keyboard.press("Enter")
    expect(menu).to_be_visible()
    screenshot(page, "switcher-open")
    page.keyboard.press("Tab")
    expect(menu.get_by_role("link", name="The Beatles")).to_be_focused()
    expect(menu.get_by_role("link")).to_have_count(1)  # only what Paul can read
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="The Beatles", exact=True)).to_be_visible()
    current = page.locator("details.switcher a[aria-current='true']")
    expect(current).to_have_text("The Beatles")
    # The new page starts with it closed; Space opens and closes it too.
    expect(menu).to_be_hidden()
    page.locator("details.switcher summary").focus()
    page.keyboard.press("Space")
    expect(menu).to_be_visible()
    page.keyboard.press("Space")
    expect(menu).to_be_hidden()


# --- form errors ----------------------------------------------------------------


def assert_errors_tied(page: Page, *labels: str) -> None:
    """Each field labelled so is aria-invalid and described by a shown error."""
    for label in labels:
        field = page.get_by_label(label, exact=True)
        expect(field).to_have_attribute("aria-invalid", "true")
        described = (field.get_attribute("aria-describedby") or "").split()
        assert described, f"{label}: no aria-describedby"
        errors = [page.locator(f"[id='{ident}']") for ident in described]
        assert any(
            e.count() == 1 and e.is_visible() and e.inner_text() for e in errors
        ), f"{label}: aria-describedby {described} names no shown error"


def test_a11y_login_errors_are_tied_to_their_fields(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(f"{live_server.url}/login")
    page.get_by_role("button", name="Log in").click()
    assert_errors_tied(page, "Email", "Password")
    screenshot(page, "login-field-errors")


def test_a11y_assign_role_errors_are_tied_to_their_fields(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{demo.BEATLES_ID}/roles")
    page.locator("summary", has_text="Add people").click()
    page.get_by_role("button", name="Send invitation").click()
    assert_errors_tied(page, "Email address")
    page.get_by_label("Email address", exact=True).fill("nobody@")
    page.get_by_role("button", name="Send invitation").click()
    assert_errors_tied(page, "Email address")


def test_a11y_password_errors_are_tied_to_their_fields(
    page: Page, live_server: LiveServer
) -> None:
    sign_in(page, live_server, demo.RINGO)
    page.goto(f"{live_server.url}/account/password")
    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password", exact=True).fill("a long new passphrase")
    page.get_by_label("Repeat the new password").fill("another long passphrase")
    page.get_by_role("button", name="Change password").click()
    assert_errors_tied(page, "Repeat the new password")
    page.get_by_role("button", name="Change password").click()  # all empty now
    assert_errors_tied(page, "Current password", "New password")


def test_a11y_error_summaries_pass_axe(page: Page, live_server: LiveServer) -> None:
    # The error summary (focused, a list of links) on a refused login and a
    # refused password change: nothing serious for axe either.
    page.goto(f"{live_server.url}/login")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert", name="There is a problem")).to_be_visible()
    found = {"/login": run_axe(page)}
    sign_in(page, live_server, demo.RINGO)
    page.goto(f"{live_server.url}/account/password")
    page.get_by_label("Current password").fill("not my password")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("alert", name="There is a problem")).to_be_visible()
    found["/account/password"] = run_axe(page)
    problems = [
        f"{path}: {v['id']} ({v['impact']}) {v['help']} at {v['targets']}"
        for path, violations in found.items()
        for v in violations
        if v["impact"] in BLOCKING
    ]
    assert not problems, "\n".join(problems)


# --- invitations (issue 19) ---------------------------------------------------


def test_a11y_invitation_pages_have_no_violations(
    page: Page, browser: Browser, live_server: LiveServer
) -> None:
    # why: the link's page is reached from a mail, not from pages(): axe runs on
    # it here, with the People page's pending invitations and its refused link
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{demo.BEATLES_ID}/roles")
    page.locator("summary", has_text="Add people").click()
    page.get_by_label("Email address", exact=True).fill("stuart@beatles.com")
    page.get_by_role("button", name="Send invitation").click()
    found = {"/orgs/1/roles (pending)": run_axe(page)}
    path = mailed_invitation(live_server, "stuart@beatles.com")
    with browser.new_context(bypass_csp=True) as theirs:
        visitor = theirs.new_page()
        for shown in (path, "/invitations/" + "x" * 43):
            visitor.goto(live_server.url + shown)
            found[shown] = run_axe(visitor)
        visitor.goto(live_server.url + path)
        visitor.get_by_label("New password", exact=True).fill("a long passphrase")
        visitor.get_by_label("Repeat the new password").fill("a long passphrase")
        visitor.get_by_role("button", name="Accept and create my account").click()
        expect(visitor.get_by_role("status")).to_contain_text("Welcome")
        visitor.goto(live_server.url + path)  # used: refused, now logged in
        found[path + " (used)"] = run_axe(visitor)
    problems = [
        line for shown, got in found.items() for line in _describe(shown, "-", got)
    ]
    assert problems == []
