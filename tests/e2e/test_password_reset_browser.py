"""Forgot your password, in the browser: from the login page to a new password."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import demo
from portal.domain.models import OutboxMessage
from tests.e2e.conftest import LiveServer, account_toggle, log_out, login, screenshot
from tests.e2e.test_a11y import browser_context_args, run_axe

pytestmark = pytest.mark.e2e

# Contexts that let axe-core be injected (the app's CSP refuses inline script).
__all__ = ["browser_context_args"]

LINK = re.compile(r"\S+/password/reset/[A-Za-z0-9_-]{43}")
NEW_PASSWORD = "a new password, typed twice"


def _mailed_link(server: LiveServer, to: str) -> str:
    """The path of the link in the newest mail to `to`, read from the outbox
    (delivering it is the sender's job, tested with it)."""
    with Session(server.app.extensions["portal.engine"]) as session:
        body = session.scalars(
            select(OutboxMessage.body)
            .where(OutboxMessage.to_address == to)
            .order_by(OutboxMessage.id.desc())
        ).first()
    assert body is not None, f"no mail to {to}"
    match = LINK.search(body)
    assert match is not None, body
    return urlsplit(match.group(0)).path


def _serious(violations: list[dict[str, Any]]) -> list[str]:
    """axe's serious and critical findings, as test_a11y counts them."""
    return [
        f"{v['id']}: {v['help']}"
        for v in violations
        if v["impact"] in {"serious", "critical"}
    ]


def test_e2e_forgot_password_sets_a_new_one_and_logs_in(
    page: Page, live_server: LiveServer
) -> None:
    page.goto(f"{live_server.url}/login")
    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    screenshot(page, "password-forgot")
    page.get_by_label("Email").fill(demo.RINGO)
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text(
        f"If an account uses {demo.RINGO}, a link to set a new password is on its way."
    )
    screenshot(page, "password-forgot-sent")

    page.goto(live_server.url + _mailed_link(live_server, demo.RINGO))
    expect(page.get_by_role("heading", name="Set a new password")).to_be_visible()
    assert _serious(run_axe(page)) == []
    expect(page.get_by_text(demo.RINGO)).to_be_visible()
    page.get_by_label("New password", exact=True).fill("too short")
    page.get_by_label("Repeat the new password").fill("too short")
    page.get_by_role("button", name="Set the new password").click()
    summary = page.get_by_role("alert", name="There is a problem")
    expect(summary).to_contain_text("Use between 12 and 128 characters.")
    assert _serious(run_axe(page)) == []
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    screenshot(page, "password-reset")
    page.get_by_role("button", name="Set the new password").click()
    expect(page.get_by_role("heading", name="Your organizations")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Your new password is set")
    expect(account_toggle(page)).to_contain_text(demo.RINGO)

    log_out(page)
    login(page, live_server, demo.RINGO, NEW_PASSWORD)


def test_e2e_used_link_says_so(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/password/forgot")
    page.get_by_label("Email").fill(demo.PAUL)
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
    link = live_server.url + _mailed_link(live_server, demo.PAUL)
    page.goto(link)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the new password").click()
    expect(account_toggle(page)).to_be_visible()
    page.goto(link)
    used = page.get_by_role("heading", name="This link was already used")
    expect(used).to_be_visible()
    assert _serious(run_axe(page)) == []
    page.get_by_role("link", name="Ask for a new link").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
