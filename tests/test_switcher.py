"""The header's organization switcher, over HTTP: on every signed-in page it lists
exactly the organizations the policy lets the user READ, by name, at most
SWITCHER_SIZE of them, the current one marked."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser

import pytest
from flask import Flask, render_template
from flask.testing import FlaskClient
from polar.exceptions import OsoError
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import demo
from portal.domain.models import Organization
from portal.web.switcher import SWITCHER_SIZE
from tests.conftest import AuthActions, client_for, organization, user_by_email
from tests.factories import (
    bulk_organizations,
    bulk_roles,
    make_organization,
    make_role,
    make_user,
)
from tests.routes import ACTORS, Page, pages


@dataclass
class Shown:
    """What a page's switcher shows."""

    present: bool = False
    names: list[str] | None = None
    current: list[str] | None = None
    see_all: str | None = None  # the "See all organizations" link's href
    empty: str = ""


class _SwitcherParser(HTMLParser):
    """Reads the <details class="switcher"> of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.shown = Shown(names=[], current=[])
        self._depth = 0  # <details> nesting inside the switcher
        self._link: dict[str, str | None] | None = None
        self._empty = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "details" and "switcher" in (attributes.get("class") or ""):
            self.shown.present = True
            self._depth = 1
        elif self._depth and tag == "details":
            self._depth += 1
        elif self._depth and tag == "a":
            self._link = {**attributes, "text": ""}
        elif self._depth and tag == "p" and attributes.get("class") == "switcher-empty":
            self._empty = True

    def handle_endtag(self, tag: str) -> None:
        if self._depth and tag == "details":
            self._depth -= 1
        elif self._link is not None and tag == "a":
            link, self._link = self._link, None
            text = (link["text"] or "").strip()
            if link.get("class") == "switcher-all":
                self.shown.see_all = link["href"]
                return
            assert self.shown.names is not None and self.shown.current is not None
            self.shown.names.append(text)
            if link.get("aria-current") == "true":
                self.shown.current.append(text)
        elif tag == "p":
            self._empty = False

    def handle_data(self, data: str) -> None:
        if self._link is not None:
            self._link["text"] = (self._link["text"] or "") + data
        elif self._empty:
            self.shown.empty += data


def switcher(html: str) -> Shown:
    parser = _SwitcherParser()
    parser.feed(html)
    return parser.shown


# What each demo actor can READ, from the demo data (the policy: any role READs).
READABLE = {
    actor: sorted(
        demo.ORGANIZATIONS[org_id][0]
        for org_id, people in demo.ROLES.items()
        if email in people
    )
    for actor, email in ACTORS.items()
    if email is not None
}


@pytest.mark.parametrize("actor", sorted(READABLE))
def test_switcher_lists_exactly_what_the_actor_can_read(app: Flask, actor: str) -> None:
    shown = switcher(client_for(app, actor).get("/orgs").text)
    assert shown.present
    assert shown.names == READABLE[actor]
    assert shown.see_all is None


@pytest.mark.parametrize("page", [p for p in pages() if p.email], ids=str)
def test_switcher_is_on_every_signed_in_page(app: Flask, page: Page) -> None:
    response = client_for(app, page.actor).get(page.path)
    assert response.status_code == 200
    assert switcher(response.text).names == READABLE[page.actor]


def test_switcher_shows_an_empty_state_to_a_user_without_roles(app: Flask) -> None:
    shown = switcher(client_for(app, "no_role").get("/orgs").text)
    assert shown.present and shown.names == []
    assert "You have no role in any organization yet." in shown.empty


def test_switcher_is_not_shown_to_anonymous_visitors(client: FlaskClient) -> None:
    assert not switcher(client.get("/login").text).present


def test_switcher_is_on_error_pages_of_signed_in_users(app: Flask) -> None:
    # why: a 403 or 404 page is where someone most needs a way elsewhere
    client = client_for(app, "member")
    for path, status in (("/orgs/1/billing", 403), ("/orgs/2", 404)):
        response = client.get(path)
        assert response.status_code == status
        assert switcher(response.text).names == ["The Beatles"]


def test_switcher_marks_the_current_organization(
    app: Flask, client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    john = user_by_email(db, demo.JOHN)
    make_role(db, john, organization(db, demo.MONSTERS_ID), "BILLING")
    db.commit()
    auth.login(demo.JOHN)
    on_beatles = switcher(client.get("/orgs/1/roles").text)
    assert on_beatles.names == ["Monsters Inc.", "The Beatles"]  # by name
    assert on_beatles.current == ["The Beatles"]
    assert switcher(client.get("/orgs/2/billing").text).current == ["Monsters Inc."]
    assert switcher(client.get("/orgs").text).current == []


def test_switcher_follows_a_role_change_on_the_next_request(
    app: Flask, client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    # why: the list is the policy's filter, cached across requests only by what
    # the policy reads (the user id); the role rows are joined in SQL each time
    auth.login(demo.ADMIN)
    assert switcher(client.get("/orgs").text).names == []
    make_role(db, user_by_email(db, demo.ADMIN), organization(db, 2), "MEMBER")
    db.commit()
    assert switcher(client.get("/orgs").text).names == ["Monsters Inc."]


@pytest.mark.parametrize(
    ("count", "see_all"), [(SWITCHER_SIZE, False), (SWITCHER_SIZE + 1, True)]
)
def test_switcher_lists_at_most_its_size_then_links_to_all(
    client: FlaskClient, auth: AuthActions, db: Session, count: int, see_all: bool
) -> None:
    user = make_user(db)
    org_ids = bulk_organizations(db, count, name="Switch {n}")
    bulk_roles(db, [(user.id, org_id, "BILLING") for org_id in org_ids])
    db.commit()
    names = db.scalars(
        select(Organization.name)
        .where(Organization.id.in_(org_ids))
        .order_by(Organization.name, Organization.id)
    ).all()
    auth.login(user.email)
    shown = switcher(client.get("/account/password").text)
    assert shown.names == names[:SWITCHER_SIZE]
    assert (shown.see_all == "/orgs") is see_all


@pytest.mark.own_app  # adds a route
def test_switcher_does_not_silence_the_tripwire(app: Flask) -> None:
    # why: the switcher's list must not count as the page's authorization, or a
    # view that forgot its check would pass for any signed-in user
    @app.route("/forgotten-page")
    def forgotten_page() -> str:
        return render_template("base.html")

    client = client_for(app, "owner")
    with pytest.raises(OsoError, match="Authorize not called"):
        client.get("/forgotten-page")


def test_switcher_lists_the_current_organization_even_past_its_size(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    # why: on the page of an organization that sorts past the first ten, the
    # switcher would otherwise not show where the user is
    user = make_user(db)
    org_ids = bulk_organizations(db, SWITCHER_SIZE + 2, name="Aaa switch {i:02} {n}")
    last = make_organization(db, "Zzz last of them")
    bulk_roles(db, [(user.id, org_id, "MEMBER") for org_id in [*org_ids, last.id]])
    db.commit()
    auth.login(user.email)
    shown = switcher(client.get(f"/orgs/{last.id}").text)
    assert shown.names is not None and len(shown.names) == SWITCHER_SIZE + 1
    assert shown.names[0] == "Zzz last of them" and shown.current == [last.name]
    assert shown.see_all == "/orgs"
    assert switcher(client.get(f"/orgs/{org_ids[0]}").text).names == (shown.names[1:])
