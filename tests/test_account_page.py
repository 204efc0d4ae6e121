"""The user's own page, ``GET /account`` (issue 18): who they are, their
organizations with their role in each, and the ways to their repositories and
their password; the JSON a script asks first after logging in."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy.orm import Session

from portal.domain import demo
from tests import factories
from tests.conftest import client_for, user_by_email

JSON = {"Accept": "application/json"}


def test_account_json_is_what_a_script_asks_first(app: Flask, db: Session) -> None:
    paul = user_by_email(db, demo.PAUL)
    body = client_for(app, "member").get("/account", headers=JSON).get_json()
    assert body["user"] == {"id": paul.id, "email": demo.PAUL}
    assert body["organizations"] == [
        {"id": demo.BEATLES_ID, "name": "The Beatles", "role": "MEMBER"}
    ]
    assert body["links"] == {
        "repositories": "/repos",
        "organizations": "/orgs",
        "password": "/account/password",
    }
    assert body["paging"]["total"] == 1
    assert "csrf_token" in body
    assert "password_hash" not in str(body) and "session_token" not in str(body)


def test_account_page_says_who_and_where_in_words(app: Flask, db: Session) -> None:
    john = user_by_email(db, demo.JOHN)
    page = client_for(app, "owner").get("/account").get_data(as_text=True)
    assert "<h1>Your account</h1>" in page
    assert f"<dd>{demo.JOHN}</dd>" in page and f"<dd>{john.id}</dd>" in page
    assert re.search(r'href="/orgs/1"><span class="org-link-name">The Beatles', page)
    assert '<span class="visually-hidden">Your role: </span>Owner</span>' in page
    assert 'href="/repos"' in page
    assert 'href="/account/password"' in page


def test_account_page_lists_only_ones_own_organizations(app: Flask) -> None:
    page = client_for(app, "billing").get("/account").get_data(as_text=True)
    main = page.split('<main class="page" id="main">')[1]
    assert "The Beatles" in main and "Billing manager" in main
    assert "Monsters Inc." not in main


def test_account_page_empty_state(app: Flask) -> None:
    client = client_for(app, "no_role")
    page = client.get("/account").get_data(as_text=True)
    assert "You do not belong to any organization yet." in page
    assert 'href="/orgs/new"' in page
    body = client.get("/account", headers=JSON).get_json()
    assert body["organizations"] == []


def test_account_organizations_are_paged(app: Flask, db: Session) -> None:
    paul = user_by_email(db, demo.PAUL)
    for _ in range(55):
        factories.make_role(db, paul, factories.make_organization(db), "BILLING")
    db.commit()
    client = client_for(app, "member")
    first = client.get("/account", headers=JSON).get_json()
    assert (first["paging"]["total"], first["paging"]["pages"]) == (56, 2)
    assert first["paging"]["next"] == "/account?page=2"
    second = client.get("/account?page=2", headers=JSON).get_json()
    assert len(second["organizations"]) == 6
    assert {org["role"] for org in second["organizations"]} <= {"BILLING", "MEMBER"}
    page = client.get("/account?page=2").get_data(as_text=True)
    assert 'aria-label="Pages of your organizations"' in page
    assert client.get("/account?page=9").status_code == 404
    assert client.get("/account?page=0").status_code == 400


def test_account_needs_a_login(app: Flask) -> None:
    client = client_for(app, "anonymous")
    assert client.get("/account").status_code == 302
    assert client.get("/account", headers=JSON).status_code == 401


def test_account_menu_links_to_the_account_page(app: Flask) -> None:
    page = client_for(app, "member").get("/orgs").get_data(as_text=True)
    menu = page.split('<div class="account-panel">')[1].split("</ul>")[0]
    assert menu.index('href="/account"') < menu.index('href="/repos"')
    assert 'href="/account/password"' in menu


def test_password_page_still_works_from_the_account_page(app: Flask) -> None:
    client = client_for(app, "member")
    assert client.get("/account/password").status_code == 200
