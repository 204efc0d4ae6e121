"""Screenshots of Portal for the README: `make screenshots`.

    make screenshots                              # writes docs/screenshots/*.png
    .venv/bin/python scripts/screenshots.py OUT   # or into another folder

Serves the real app (werkzeug, a free localhost port, a thread) on a new SQLite
database in a temporary folder, migrated and seeded with the demo data as
``flask --app portal seed`` does, and drives it in headless Chromium through the
login form and the pages, as a person would. Each step checks that the page is
the one it means to show before it takes the picture, so a changed page fails
here instead of leaving a misleading picture in the README.

Chromium: ``$PORTAL_CHROMIUM``, else Debian's ``/usr/lib/chromium/chromium``, else
Playwright's own (the same order as the browser tests; ``make browser``).

The pictures are full pages at a fixed width (``WIDTH``); rerunning overwrites
them. The audit log shows the times of the changes made on the way, the only
part that differs between runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import secrets
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    expect,
    sync_playwright,
)
from werkzeug.serving import make_server

from portal import create_app
from portal.domain import demo
from portal.domain.demo import seed_database
from portal.infra import db, migrate

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
DEBIAN_CHROMIUM = "/usr/lib/chromium/chromium"  # /usr/bin/chromium is a wrapper
WIDTH = 1100
HEIGHT = 720  # the viewport's; a full-page picture is as tall as the page

#: The pictures, in the order they are taken (the README shows each, captioned).
SHOTS = (
    "login",  # anonymous
    "organizations",  # john, OWNER of The Beatles
    "organization-owner",
    "roles",
    "member",  # Ringo's, before the changes
    "audit",  # after Ringo went to BILLING and back
    "organization-member",  # paul, MEMBER
    "forbidden",  # paul on /orgs/1/billing: 403
)

BEATLES = demo.BEATLES_ID


@dataclass
class Server:
    """The app being photographed and where it answers."""

    url: str
    app: Flask


def chromium_path() -> str | None:
    """$PORTAL_CHROMIUM, else Debian's Chromium, else None (Playwright's own)."""
    path = os.environ.get("PORTAL_CHROMIUM")
    if path:
        return path
    return DEBIAN_CHROMIUM if os.path.exists(DEBIAN_CHROMIUM) else None


def seeded_database(folder: Path) -> str:
    """A new SQLite database in folder with the newest schema and the demo data
    (what ``flask --app portal seed`` does); its URL."""
    url = f"sqlite:///{folder / 'portal.sqlite'}"
    app = _app(url)
    with app.app_context():
        migrate.upgrade(db.engine())
        with db.writer_session() as session:
            seed_database(session)
    app.extensions["portal.engine"].dispose()
    return url


@contextmanager
def serve(database_url: str) -> Iterator[Server]:
    """Portal on database_url, served on a free localhost port by a thread."""
    app = _app(database_url)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        app.extensions["portal.engine"].dispose()


def take(browser: Browser, out: Path, database_url: str | None = None) -> list[Path]:
    """Take every picture in SHOTS into out (overwriting); return their paths.

    database_url: a seeded demo database to use up (it is changed: Ringo's role
    goes to BILLING and back); by default a new one in a temporary folder.
    """
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="portal-screenshots-") as folder:
        url = database_url or seeded_database(Path(folder))
        with serve(url) as server:
            with _person(browser) as page:
                _anonymous(page, server, out)
            with _person(browser) as page:
                _owner(page, server, out)
            with _person(browser) as page:
                _member(page, server, out)
    return [out / f"{name}.png" for name in SHOTS]


def _anonymous(page: Page, server: Server, out: Path) -> None:
    """Someone not logged in: the login page."""
    page.goto(server.url)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.get_by_role("heading", name="Log in to Portal")).to_be_visible()
    _shoot(page, out, "login")


def _owner(page: Page, server: Server, out: Path) -> None:
    """john, OWNER of The Beatles: the pages an owner has, and two role changes."""
    _login(page, server, demo.JOHN)
    expect(page.get_by_role("heading", name="Your organizations")).to_be_visible()
    _shoot(page, out, "organizations")

    page.get_by_role("link", name="The Beatles").click()
    expect(page.get_by_role("heading", name="The Beatles", exact=True)).to_be_visible()
    _shoot(page, out, "organization-owner")

    tabs = page.get_by_role("navigation", name="The Beatles sections")
    tabs.get_by_role("link", name="People").click()
    expect(page.get_by_role("heading", name="People", exact=True)).to_be_visible()
    _shoot(page, out, "roles")

    members = page.get_by_role("table", name="People")
    members.get_by_role("link", name=demo.RINGO, exact=True).click()
    expect(page.get_by_role("heading", name=demo.RINGO)).to_be_visible()
    expect(page.get_by_text("Role in The Beatles: Member")).to_be_visible()
    _shoot(page, out, "member")

    # Two real changes, so that the audit log has something to show: Ringo to
    # BILLING with his row's control on the people page ("Add people" invites
    # people without a role: issue 19), and back to MEMBER on his member page.
    tabs.get_by_role("link", name="People").click()
    page.get_by_label(f"Role of {demo.RINGO}").select_option("BILLING")
    page.get_by_role("button", name=f"Change the role of {demo.RINGO}").click()
    expect(page.get_by_role("status")).to_have_text(
        re.compile(rf"^{re.escape(demo.RINGO)} is now a Billing manager")
    )
    members.get_by_role("link", name=demo.RINGO, exact=True).click()
    page.get_by_role("radio", name="Member", exact=True).check()
    page.get_by_role("button", name="Change role").click()
    expect(page.get_by_role("status")).to_have_text(
        re.compile(rf"^{re.escape(demo.RINGO)} is now a Member")
    )

    tabs.get_by_role("link", name="Audit log").click()
    changes = page.get_by_role("table", name="Role changes").locator("tbody tr")
    expect(changes).to_have_count(2)
    _shoot(page, out, "audit")


def _member(page: Page, server: Server, out: Path) -> None:
    """paul, MEMBER of The Beatles: the overview without billing, and the 403."""
    _login(page, server, demo.PAUL)
    page.get_by_role("link", name="The Beatles").click()
    tabs = page.get_by_role("navigation", name="The Beatles sections")
    expect(tabs.get_by_role("link", name="Repositories")).to_be_visible()
    expect(tabs.get_by_role("link", name="Billing")).to_have_count(0)
    _shoot(page, out, "organization-member")

    response = page.goto(f"{server.url}/orgs/{BEATLES}/billing")
    assert response is not None and response.status == 403, response
    expect(
        page.get_by_role("heading", name="You don't have access to this page")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Back to The Beatles")).to_be_visible()
    _shoot(page, out, "forbidden")


def _login(page: Page, server: Server, email: str) -> None:
    """Log in through the form with the demo password."""
    page.goto(f"{server.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(demo.PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("details.account-menu > summary")).to_be_visible()


def _shoot(page: Page, out: Path, name: str) -> None:
    """A full-page picture of page as out/name.png."""
    assert name in SHOTS, name
    # No focus ring or caret from the last click or keystroke in the picture.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.screenshot(
        path=str(out / f"{name}.png"),
        full_page=True,
        animations="disabled",
        caret="hide",
    )


@contextmanager
def _person(browser: Browser) -> Iterator[Page]:
    """A page in a browser context of its own (its own cookies), at WIDTH."""
    context: BrowserContext = browser.new_context(
        viewport={"width": WIDTH, "height": HEIGHT},
        device_scale_factor=1,
        color_scheme="light",
        reduced_motion="reduce",
        locale="en-GB",
        timezone_id="UTC",
    )
    try:
        yield context.new_page()
    finally:
        context.close()


def _app(database_url: str) -> Flask:
    """Portal on database_url with a throwaway key, over plain HTTP (localhost),
    listing the demo accounts on the login page: as ``make run`` serves it."""
    return create_app(
        {
            "SECRET_KEY": secrets.token_hex(32),
            "DATABASE_URL": database_url,
            "HTTPS": False,
            "DEMO_ACCOUNTS": True,
            # The role changes on the way are not news; failures still show.
            "LOG_LEVEL": "WARNING",
        }
    )


def main(argv: list[str] | None = None) -> int:
    """Take the pictures into the folder given (docs/screenshots/ by default)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=OUT)
    args = parser.parse_args(argv)
    # One line per request from the server thread would bury the list of files.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path())
        try:
            paths = take(browser, args.out)
        finally:
            browser.close()
    for path in paths:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
