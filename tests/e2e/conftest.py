"""Playwright fixtures: a live Portal server per test and the Chromium to drive it.

Each test gets its own server on its own copy of the seeded database, so tests
never depend on each other. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, session
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import select
from werkzeug.serving import make_server

from portal import create_app
from portal.domain import demo
from portal.domain.models import OutboxMessage, User
from portal.infra.db import get_session
from portal.web.sessions import start_session
from tests.settings import app_settings

DEBIAN_CHROMIUM = "/usr/lib/chromium/chromium"  # /usr/bin/chromium is a wrapper
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any],
) -> dict[str, Any]:
    """Launch $PORTAL_CHROMIUM, else Debian's Chromium, else Playwright's own."""
    path = os.environ.get("PORTAL_CHROMIUM") or (
        DEBIAN_CHROMIUM if os.path.exists(DEBIAN_CHROMIUM) else None
    )
    if path is None:
        return browser_type_launch_args
    return {**browser_type_launch_args, "executable_path": path}


@dataclass
class LiveServer:
    url: str
    app: Flask


if os.environ.get("PORTAL_TEST_FULL") != "1":  # make test-full: every backend

    @pytest.fixture
    def db_url(sqlite_db_url: str) -> str:
        """Browser tests run on SQLite only: the browser sees the same pages on
        either backend, and every route runs on both in the HTTP tests."""
        return sqlite_db_url


@pytest.fixture
def live_server(db_url: str) -> Iterator[LiveServer]:
    """Portal served on a free localhost port by a threaded server."""
    with serving(db_url) as server:
        yield server


@contextmanager
def serving(db_url: str, **config: Any) -> Iterator[LiveServer]:
    """Portal on db_url (with config added) on a free localhost port."""
    app = create_app(
        {
            "SECRET_KEY": "e2e-secret-key",
            "DATABASE_URL": db_url,
            **app_settings(),
            **config,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    # shutdown() waits for the loop's next poll: 0.5 s by default, per test
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        app.extensions["portal.engine"].dispose()


def login(
    page: Page, server: LiveServer, email: str, password: str = demo.PASSWORD
) -> None:
    """Log in through the form, as a person would."""
    page.goto(f"{server.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(account_toggle(page)).to_be_visible()


def sign_in(page: Page, server: LiveServer, email: str) -> None:
    """Be logged in as email without the form, then open the organizations, where
    the form leads: the session the login view starts once the password checks
    out (portal.web.sessions.start_session, the same code) is put in the
    browser's cookie. The tests about logging in use login()."""
    app = server.app
    agent = page.evaluate("navigator.userAgent")  # what the browser will send
    environ = {"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": agent}
    with app.test_request_context(environ_base=environ):
        user = get_session().scalar(select(User).where(User.email == email))
        assert user is not None, f"no user {email}"
        start_session(user)
        cookie = app.session_interface.get_signing_serializer(app).dumps(dict(session))  # type: ignore[attr-defined]
    page.context.add_cookies(
        [
            {
                "name": app.config["SESSION_COOKIE_NAME"],
                "value": cookie,
                # as the app sets it: __Host- demands Secure and Path=/ (Chromium
                # keeps Secure cookies of http://127.0.0.1, a secure context)
                "domain": "127.0.0.1",
                "path": "/",
                "secure": app.config["SESSION_COOKIE_SECURE"],
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )
    page.goto(f"{server.url}/orgs")
    expect(account_toggle(page)).to_be_visible()


def account_toggle(page: Page) -> Locator:
    """The header's account menu toggle (a <summary>: no ARIA role to find it by)."""
    return page.locator("details.account-menu > summary")


def open_account_menu(page: Page) -> Locator:
    """Open the header's account menu; its panel."""
    menu = page.locator("details.account-menu")
    if not menu.evaluate("menu => menu.open"):
        account_toggle(page).click()
    panel = menu.locator(".account-panel")
    expect(panel).to_be_visible()
    return panel


def log_out(page: Page) -> None:
    """Log out through the account menu, as a person would."""
    open_account_menu(page).get_by_role("button", name="Log out").click()


def screenshot(page: Page, name: str) -> Path | None:
    """Save a full-page screenshot for a person to look at, when
    PORTAL_TEST_SCREENSHOTS=1; its path, else None.

    No test reads them, and each costs Chromium about 0.75 s: make test takes
    none unless asked (README, "Tests")."""
    if os.environ.get("PORTAL_TEST_SCREENSHOTS") != "1":
        return None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- invitations (issue 19) -----------------------------------------------------


def mailed_invitation(server: LiveServer, email: str) -> str:
    """The path of the newest invitation link mailed to email (read from the
    outbox, as the mail would carry it)."""
    statement = (
        select(OutboxMessage.body)
        .where(OutboxMessage.to_address == email, OutboxMessage.kind == "invitation")
        .order_by(OutboxMessage.id.desc())
        .limit(1)
    )
    with server.app.extensions["portal.engine"].connect() as connection:
        body = connection.scalar(statement)
    assert body, f"no invitation mailed to {email}"
    found = re.search(r"https?://\S+?(/invitations/[A-Za-z0-9_-]+)", body)
    assert found, f"no invitation link in {body!r}"
    return found.group(1)
