"""Time-limited roles in headless Chromium (issue 19): the member page's change
form takes an expiry alone (its button wakes up for it, as for another role),
and the page then says when the role ends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import Engine, select

from portal.domain import demo
from portal.domain.models import OrganizationRole, User
from portal.infra import clock
from tests.database import committed_scalar
from tests.e2e.conftest import LiveServer, sign_in

pytestmark = pytest.mark.e2e


def test_e2e_member_page_sets_an_expiry_alone(
    page: Page, live_server: LiveServer
) -> None:
    engine: Engine = live_server.app.extensions["portal.engine"]
    ringo = committed_scalar(engine, select(User.id).where(User.email == demo.RINGO))
    sign_in(page, live_server, demo.JOHN)
    page.goto(f"{live_server.url}/orgs/{demo.BEATLES_ID}/roles/{ringo}")
    button = page.get_by_role("button", name="Change role")
    # why: the button stays disabled while the form asks for no change; an
    # expiry typed is a change (portal.js compares role and expiry)
    expect(button).to_be_disabled()
    page.get_by_label("Expires (UTC, optional)").fill("2030-06-01 12:00")
    expect(button).to_be_enabled()
    button.click()
    expect(page.get_by_role("status")).to_contain_text(
        f"{demo.RINGO} is a Member until 1 Jun 2030, 12:00 UTC."
    )
    expect(page.get_by_text("it ends on 1 Jun 2030, 12:00 UTC")).to_be_visible()
    stored = committed_scalar(
        engine,
        select(OrganizationRole.expires_at).where(OrganizationRole.user_id == ringo),
    )
    assert stored is not None
    assert clock.as_utc(stored) == datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
