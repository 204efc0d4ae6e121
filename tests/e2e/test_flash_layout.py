"""A flash above a narrow card is as wide as the card and lines up with it: the
login page's "You are logged out." spanned the page above a 420-pixel card."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from portal.domain import demo
from tests.e2e.conftest import LiveServer, log_out, screenshot, sign_in


@pytest.mark.parametrize("width", [1280, 390])
def test_logout_flash_lines_up_with_the_login_card(
    page: Page, live_server: LiveServer, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, demo.PAUL)
    log_out(page)
    flash = page.get_by_role("status").filter(has_text="You are logged out.")
    expect(flash).to_be_visible()
    card = page.locator("section", has=page.get_by_role("heading", name="Log in"))
    flash_box, card_box = flash.bounding_box(), card.bounding_box()
    assert flash_box is not None and card_box is not None
    assert abs(flash_box["x"] - card_box["x"]) <= 1, (flash_box, card_box)
    assert abs(flash_box["width"] - card_box["width"]) <= 1, (flash_box, card_box)
    # Close above the card, not a screen away from it.
    gap = card_box["y"] - (flash_box["y"] + flash_box["height"])
    assert 0 < gap <= 32, gap
    screenshot(page, f"logout-flash-{width}")
