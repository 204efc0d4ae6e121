"""A sentence that ends with a name ends once: no "Monsters Inc.." anywhere.

The slip of issue 17: a template wrote `{{ organization.name }}.`, and an
organization whose name ends with a period got two. The check is not a list of
sentences (a new sentence would escape it) but the crawler of tests/test_crawl.py
run over demo data whose every organization's name ends with "." (The Beatles
renamed, an empty one added), with an audit log that has entries of every kind
and a second owner (so self-demotion asks for confirmation): as each demo user,
every page reached by a link or a GET form, and every POST form shown, submitted
in a sandbox (the page or flash it leads to), must show no two periods in a row.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal.domain import demo, roles
from portal.domain.models import Organization, User
from portal.web.wording import full_stop
from tests.test_crawl import (
    FAR_EXPIRY,
    HARMLESS,
    Context,
    app_on,
    crawl,
    logged_in,
    submit_in_sandboxes,
)

# --- the filter itself ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        ("The Beatles", "The Beatles."),
        ("Monsters Inc.", "Monsters Inc."),
        ("Yahoo!", "Yahoo!"),
        ("Who?", "Who?"),
        ("Wait…", "Wait…"),
    ],
)
def test_full_stop_ends_a_sentence_once(name: str, sentence: str) -> None:
    assert full_stop(name) == sentence


# --- reading what a person sees ---------------------------------------------------

# Where the text of one block ends and another's starts: periods on both sides of
# a boundary ("… Inc.</td><td>.gitignore") are not one sentence.
BOUNDARY = "\x00"
BLOCKS = {
    "address", "article", "aside", "br", "dd", "details", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
    "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "option", "p", "pre",
    "section", "select", "summary", "table", "tbody", "td", "tfoot", "th",
    "thead", "title", "tr", "ul",
}  # fmt: skip
HIDDEN = {"script", "style", "template"}
# Attributes a browser shows or reads out.
SHOWN_ATTRIBUTES = ("aria-label", "title", "alt", "placeholder", "aria-description")
# Two periods, or a period, spaces and a period, within one block.
DOUBLE_PERIOD = re.compile(rf"\.[^\S{BOUNDARY}]*\.")


class VisibleText(HTMLParser):
    """The text a person sees or hears on a page, blocks separated by BOUNDARY."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open a block or a hidden element; read the attributes people get."""
        if tag in HIDDEN:
            self._hidden += 1
        if tag in BLOCKS:
            self.parts.append(BOUNDARY)
        for name, value in attrs:
            if name in SHOWN_ATTRIBUTES and value:
                self.parts += [BOUNDARY, value, BOUNDARY]
        if tag == "input":
            kinds = {"submit", "button", "reset"}
            if dict(attrs).get("type") in kinds and (value := dict(attrs).get("value")):
                self.parts += [BOUNDARY, value, BOUNDARY]

    def handle_endtag(self, tag: str) -> None:
        """Close a block or a hidden element."""
        if tag in HIDDEN:
            self._hidden -= 1
        if tag in BLOCKS:
            self.parts.append(BOUNDARY)

    def handle_data(self, data: str) -> None:
        """Text outside scripts and styles is seen."""
        if not self._hidden:
            self.parts.append(data)


def double_periods(html: str) -> list[str]:
    """Each place in html's visible text with two periods in a row, in context."""
    parser = VisibleText()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    return [
        " ".join(text[max(0, m.start() - 40) : m.end() + 10].split()).replace(
            BOUNDARY, " | "
        )
        for m in DOUBLE_PERIOD.finditer(text)
    ]


def test_double_periods_found_across_inline_tags_and_spaces() -> None:
    # why: the check must see what a person reads, "Monsters Inc.." whether the
    # second period follows a tag, a newline or an entity
    assert double_periods("<p>You left <b>Monsters Inc.</b>\n  .</p>")
    assert double_periods("<p>Leave Monsters Inc.&#46;</p>")
    assert double_periods('<a aria-label="Leave Monsters Inc..">x</a>')
    assert double_periods("<title>Monsters Inc.. · Portal</title>")
    assert not double_periods("<td>Monsters Inc.</td><td>.gitignore</td>")
    assert not double_periods("<p>Monsters Inc.</p><script>a..b</script>")
    assert not double_periods("<p>You left Monsters Inc.</p>")


# --- demo data whose every name ends with a period --------------------------------

BEATLES = "The Beatles Ltd."
EMPTY = "Nothing Yet Inc."  # no repositories: the empty states
# Who holds which role once set up (HARMLESS's "new member" reads it).
ROLES = {
    demo.BEATLES_ID: {**demo.ROLES[demo.BEATLES_ID], demo.PAUL: "OWNER"},
    demo.MONSTERS_ID: demo.ROLES[demo.MONSTERS_ID],
}


def _user(session: Session, email: str) -> User:
    """The demo user with that email."""
    user = session.scalar(select(User).where(User.email == email))
    assert user is not None
    return user


def end_every_name_with_a_period(app: Flask) -> int:
    """Rename The Beatles, add an organization without repositories (Ringo owns
    it), make Paul a second owner of the Beatles, and leave an audit entry of
    every kind (added, changed, removed, left); the new organization's id."""
    with Session(app.extensions["portal.engine"]) as session, session.begin():
        users = {email: _user(session, email) for email in demo.USERS}
        beatles = session.get(Organization, demo.BEATLES_ID)
        monsters = session.get(Organization, demo.MONSTERS_ID)
        assert beatles is not None and monsters is not None
        assert monsters.name.endswith(".")
        beatles.name = BEATLES
        empty = Organization(name=EMPTY, billing_address="1 Empty St")
        session.add(empty)
        session.flush()
        john, ringo, sully = users[demo.JOHN], users[demo.RINGO], users[demo.SULLY]
        roles.add_user_role(session, empty, ringo, "OWNER", actor=None)
        roles.reassign_user_role(
            session, beatles, users[demo.PAUL], "OWNER", actor=john
        )
        roles.reassign_user_role(session, beatles, ringo, "BILLING", actor=john)
        roles.reassign_user_role(session, beatles, ringo, "MEMBER", actor=john)
        roles.delete_user_role(session, monsters, sully, actor=sully)
        roles.add_user_role(session, monsters, sully, "MEMBER", actor=users[demo.MIKE])
        return empty.id


@pytest.fixture
def renamed_file(seeded_db_file: Path, tmp_path: Path) -> tuple[Path, int]:
    """A seeded SQLite file set up by end_every_name_with_a_period, and the id of
    the organization without repositories."""
    path = tmp_path / "renamed.sqlite"
    shutil.copy(seeded_db_file, path)
    app = app_on(f"sqlite:///{path}")
    try:
        empty_id = end_every_name_with_a_period(app)
    finally:
        app.extensions["portal.engine"].dispose()
    return path, empty_id


class Seen:
    """Every HTML answer a set of clients got: URL -> page."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}

    def client_class(self) -> type[FlaskClient]:
        """A test client class that records its HTML answers here."""
        pages = self.pages

        class Recording(FlaskClient):
            def open(self, *args: Any, **kwargs: Any) -> TestResponse:
                response = super().open(*args, **kwargs)
                # A redirect's body is Werkzeug's, and no browser shows it.
                if response.mimetype == "text/html" and not response.location:
                    where = f"{response.request.method} {response.request.path}"
                    pages[f"{where} ({response.status_code})"] = response.text
                return response

        return Recording

    def slips(self) -> list[str]:
        """Each double period, with the answer it is on."""
        return [
            f"{where}: {found}"
            for where, page in sorted(self.pages.items())
            if (found := double_periods(page))
        ]


@pytest.mark.sqlite_only  # what a page says does not depend on the backend
@pytest.mark.parametrize("email", demo.USERS)
def test_no_double_period_on_any_page_or_flash(
    renamed_file: tuple[Path, int],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    email: str,
) -> None:
    path, empty_id = renamed_file
    organization_roles = {**ROLES, empty_id: {demo.RINGO: "OWNER"}}

    def new_member(context: Context) -> dict[str, str]:
        held = organization_roles[int(str(context.args["org_id"]))]
        return {
            "user_email": next(u for u in demo.USERS if u not in held),
            "name": "MEMBER",
            "expires": FAR_EXPIRY,
        }

    monkeypatch.setitem(HARMLESS, "members.role_create", new_member)
    seen = Seen()
    numbers = count()

    @contextmanager
    def sandbox() -> Iterator[Flask]:
        """A fresh app on a fresh copy of the renamed database."""
        copy = tmp_path / f"sandbox-{next(numbers)}.sqlite"
        shutil.copy(path, copy)
        app = app_on(f"sqlite:///{copy}")
        app.test_client_class = seen.client_class()
        try:
            yield app
        finally:
            app.extensions["portal.engine"].dispose()

    with sandbox() as app:
        client = logged_in(app, email)
        found = crawl(app, client)
        assert "GET /orgs (200)" in seen.pages, "the crawler read no pages"
        # The error pages a person reaches by typing an address.
        for org_id in (demo.BEATLES_ID, demo.MONSTERS_ID, empty_id):
            for page in ("", "/repos", "/billing", "/roles", "/audit", "/roles/99"):
                client.get(f"/orgs/{org_id}{page}")
            for user_id in range(1, len(demo.USERS) + 1):
                client.get(f"/orgs/{org_id}/roles/{user_id}")
                client.get(f"/orgs/{org_id}/roles/{user_id}/delete")
        client.get("/no-such-page")
        forms = [form for form in found.forms.values() if form.usable]
        # Each in a sandbox: the page or the flash it leads to (logging out's
        # on the login page) is recorded too.
        assert not submit_in_sandboxes(app, sandbox, email, forms)
    slips = seen.slips()
    assert not slips, "\n".join(slips)
