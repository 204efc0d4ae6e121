"""Hostile names rendered in Chromium under the real CSP: nothing runs, all is text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import ConsoleMessage, Dialog, Page, expect
from sqlalchemy.orm import Session

from portal.domain import demo
from tests.conftest import organization
from tests.e2e.conftest import LiveServer, log_out, screenshot, sign_in
from tests.factories import (
    bulk_audit_entries,
    make_repository,
    make_role,
    make_user,
)
from tests.routes import ACTORS, pages

pytestmark = pytest.mark.e2e

# Each sets window.__xss (and alerts) if the browser ever runs it.
PAYLOADS = [
    "<script>window.__xss=1;alert(1)</script>",
    '"><img src=x onerror="window.__xss=1;alert(2)">',
    "' autofocus onfocus='window.__xss=1;alert(3)",
    "x onmouseover=window.__xss=1 autofocus onfocus=alert(4)",
    "</title><svg onload=alert(5)>",
    "javascript:alert(6)",
]


def _every_page(page: Page, server: LiveServer) -> Iterator[str]:
    """Open each page of tests/routes.py as the actor who is shown it; yield its
    path once it has loaded. Ends logged in as whoever saw the last page."""
    by_actor: dict[str, list[str]] = {}
    for entry in pages():
        by_actor.setdefault(entry.actor, []).append(entry.path)
    for actor, paths in by_actor.items():
        page.context.clear_cookies()
        email = ACTORS[actor]
        if email is not None:
            sign_in(page, server, email)
        for path in paths:
            page.goto(f"{server.url}{path}")
            yield path


def _login_afresh(page: Page, server: LiveServer, email: str) -> None:
    page.context.clear_cookies()
    sign_in(page, server, email)


def _plant(server: LiveServer) -> None:
    with Session(server.app.extensions["portal.engine"]) as session:
        org = organization(session, demo.BEATLES_ID)
        org.name = PAYLOADS[0]
        org.billing_address = PAYLOADS[1]
        for i, payload in enumerate(PAYLOADS):
            make_repository(session, org, payload)
            make_role(session, make_user(session, f"{payload}{i}"), org, "MEMBER")
            # The audit log shows stored emails, not the users' current ones.
            bulk_audit_entries(session, org.id, 1, user_email=f"{payload}{i}")
        session.commit()


def test_e2e_xss_payloads_stay_text(page: Page, live_server: LiveServer) -> None:
    _plant(live_server)
    dialogs: list[str] = []
    violations: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    page.on("dialog", on_dialog)
    page.on("console", on_console)
    for path in _every_page(page, live_server):
        page.mouse.move(200, 300)
        page.mouse.move(400, 420)
        assert page.evaluate("typeof window.__xss") == "undefined", path
    _login_afresh(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/1/roles")
    for i, payload in enumerate(PAYLOADS):
        expect(
            page.get_by_role("cell", name=f"{payload}{i}", exact=True)
        ).to_be_visible()
    expect(page.get_by_role("heading", name=PAYLOADS[0], exact=True)).to_be_visible()
    screenshot(page, "xss-roles")
    page.goto(f"{live_server.url}/orgs/1/repos")
    for payload in PAYLOADS:
        expect(page.get_by_role("cell", name=payload, exact=True)).to_be_visible()
    page.goto(f"{live_server.url}/orgs/1/audit")
    for i, payload in enumerate(PAYLOADS):
        what = f"changed {payload}{i} from Member to Billing manager"
        expect(page.get_by_role("cell", name=what, exact=True)).to_be_visible()
    assert dialogs == []
    assert violations == []  # not even a blocked attempt reached the DOM


def test_e2e_pages_load_without_csp_violations(
    page: Page, live_server: LiveServer
) -> None:
    # why: a CSP that blocks our own stylesheet or a form would break the UI
    violations: list[str] = []
    page.on(
        "console",
        lambda m: (
            violations.append(m.text) if "Content Security Policy" in m.text else None
        ),
    )
    topbar = "getComputedStyle(document.querySelector('.topbar')).backgroundColor"
    for path in _every_page(page, live_server):
        assert page.evaluate(topbar) == "rgb(29, 35, 51)", path  # portal.css applied
    _login_afresh(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{demo.MONSTERS_ID}")  # the 404 page
    assert page.evaluate(topbar) == "rgb(29, 35, 51)"
    log_out(page)
    expect(page.get_by_role("status")).to_have_text("You are logged out.")
    assert violations == []


def test_e2e_pages_ask_for_no_favicon_ico(page: Page, live_server: LiveServer) -> None:
    # why: the browser's own /favicon.ico request answered 404 with a session
    # cookie; arriving after a newer page's cookie, it replaced the session and
    # the next form failed its CSRF check ("This form has expired")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    for _ in _every_page(page, live_server):
        pass
    assert not [url for url in asked if url.endswith("/favicon.ico")]
    assert any(url.endswith("/static/favicon.svg") for url in asked)
