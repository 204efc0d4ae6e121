"""Finding organizations and repositories by name (portal/domain/name_search.py),
the viewer's role on each organization, and the numbered pager, over HTTP."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal.domain import demo
from tests.conftest import AuthActions
from tests.factories import (
    bulk_audit_entries,
    bulk_organizations,
    bulk_repositories,
    bulk_roles,
    make_organization,
    make_user,
)

JSON = {"Accept": "application/json"}

# Names with what a LIKE pattern or a careless query would trip on.
NAMES = [
    "Abbey Road",
    "abbey lane",
    "100% Pure",
    "1000 Pure",
    "snake_case",
    "snakeXcase",
    "O'Brien & Sons",
    'The "Quoted"',
    "back\\slash",
    "Über Müller",
    "東京 Tokyo",
]

# (search, the names it finds, in the lists' order: by name, then id)
SEARCHES = [
    ("abbey", ["Abbey Road", "abbey lane"]),  # by name as stored (A < a)
    ("ABBEY R", ["Abbey Road"]),
    ("%", ["100% Pure"]),  # a wildcard would find every name
    ("0%", ["100% Pure"]),
    ("_", ["snake_case"]),  # a wildcard would find snakeXcase too
    ("e_c", ["snake_case"]),
    ("'", ["O'Brien & Sons"]),
    ("o'brien", ["O'Brien & Sons"]),
    ('"quoted"', ['The "Quoted"']),
    ("\\", ["back\\slash"]),
    ("über", ["Über Müller"]),  # the case of letters outside ASCII too
    ("MÜLLER", ["Über Müller"]),
    ("東京", ["東京 Tokyo"]),
    ("  road ", ["Abbey Road"]),  # surrounding spaces are dropped
]


@dataclass(frozen=True)
class Lists:
    """A user's organizations named NAMES and one with repositories named NAMES,
    plus an organization and repositories of another tenant with the same names."""

    email: str
    org_ids: dict[str, int]  # name -> id
    repo_org: int  # where the repositories are


@pytest.fixture
def lists(db: Session) -> Lists:
    user = make_user(db)
    org_ids = {name: make_organization(db, name).id for name in NAMES}
    bulk_roles(db, [(user.id, org_id, "MEMBER") for org_id in org_ids.values()])
    repo_org = org_ids["Abbey Road"]
    for name in NAMES:
        bulk_repositories(db, repo_org, 1, name=name)
    # Another tenant's organization and repositories, found by every search.
    stranger = make_organization(db, "Abbey Road % _ ' \" \\ Über Müller 東京 Tokyo")
    bulk_repositories(db, stranger.id, 1, name=stranger.name)
    db.commit()
    return Lists(user.email, org_ids, repo_org)


def _org_names(response: TestResponse) -> list[str]:
    main = response.text.split("<main", 1)[1]  # not the header's switcher
    return [html.unescape(n) for n in re.findall(r'"org-link-name">([^<]*)<', main)]


def _repo_names(response: TestResponse) -> list[str]:
    cells = re.findall(r'<td><a href="[^"]*">([^<]*)</a></td>', response.text)
    return [html.unescape(n) for n in cells]


def _text(response: TestResponse) -> str:
    """The page's main content as text, spaces collapsed."""
    main = response.text.split("<main", 1)[1]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", main)).split())


# --- the organization list ---------------------------------------------------------


@pytest.mark.parametrize(("q", "found"), SEARCHES, ids=[q for q, _ in SEARCHES])
def test_organization_list_search_finds_names_containing_it(
    client: FlaskClient, auth: AuthActions, lists: Lists, q: str, found: list[str]
) -> None:
    auth.login(lists.email)
    response = client.get("/orgs", query_string={"q": q})
    assert response.status_code == 200
    assert _org_names(response) == found


@pytest.mark.parametrize(("q", "found"), SEARCHES, ids=[q for q, _ in SEARCHES])
def test_repository_list_search_finds_names_containing_it(
    client: FlaskClient, auth: AuthActions, lists: Lists, q: str, found: list[str]
) -> None:
    auth.login(lists.email)
    response = client.get(f"/orgs/{lists.repo_org}/repos", query_string={"q": q})
    assert response.status_code == 200
    assert _repo_names(response) == found


def test_organization_list_search_keeps_what_was_typed_and_offers_clear(
    client: FlaskClient, auth: AuthActions, lists: Lists
) -> None:
    auth.login(lists.email)
    page = client.get("/orgs", query_string={"q": "O'Brien"}).text
    assert re.search(r'<input[^>]*name="q"[^>]*value="O&#39;Brien"', page)
    assert '<a class="button" href="/orgs">Clear</a>' in page
    assert "1 matching organization<" in page


def test_organization_list_search_without_a_match_says_so_with_a_way_back(
    client: FlaskClient, auth: AuthActions, lists: Lists
) -> None:
    auth.login(lists.email)
    response = client.get("/orgs", query_string={"q": "<nothing>"})
    assert response.status_code == 200
    assert _org_names(response) == []
    assert (
        "None of your organizations has a name that contains ‘<nothing>’."
        " Clear the search" in _text(response)
    )
    assert "&lt;nothing&gt;" in response.text  # escaped, never markup
    assert '<a href="/orgs">Clear the search</a>' in response.text


def test_repository_list_search_without_a_match_says_so_with_a_way_back(
    client: FlaskClient, auth: AuthActions, lists: Lists
) -> None:
    auth.login(lists.email)
    path = f"/orgs/{lists.repo_org}/repos"
    response = client.get(path, query_string={"q": "zzz"})
    assert response.status_code == 200
    assert _repo_names(response) == []
    assert (
        "No repository of Abbey Road has a name that contains ‘zzz’. Clear the search"
        in _text(response)
    )
    assert f'<a href="{path}">Clear the search</a>' in response.text


def test_organization_list_without_organizations_shows_no_search(
    client: FlaskClient, auth: AuthActions
) -> None:
    # why: a search over nothing is a control that cannot help
    auth.login(demo.ADMIN)
    page = client.get("/orgs").text
    assert 'role="search"' not in page.split("<main", 1)[1]
    assert "You do not belong to any organization yet." in page


BAD_SEARCHES = [
    ({"q": "x" * 10_000}, "Search for at most 200 characters."),
    ({"q": "x" * 201}, "Search for at most 200 characters."),
    ({"q": "a\x00b"}, "Remove the control characters from this field."),
    ({"q": ["a", "b"]}, "Give one search, not several."),
]


@pytest.mark.parametrize(("args", "message"), BAD_SEARCHES)
@pytest.mark.parametrize("where", ["orgs", "repos"])
def test_lists_refuse_a_bad_search_with_400_and_the_reason(
    client: FlaskClient,
    auth: AuthActions,
    lists: Lists,
    args: dict[str, Any],
    message: str,
    where: str,
) -> None:
    auth.login(lists.email)
    path = "/orgs" if where == "orgs" else f"/orgs/{lists.repo_org}/repos"
    response = client.get(path, query_string=args)
    assert response.status_code == 400
    assert message in response.text
    assert 'aria-invalid="true"' in response.text  # next to the field
    assert "Correct the search above" in response.text
    assert _org_names(response) == [] and _repo_names(response) == []
    refused = client.get(path, query_string=args, headers=JSON)
    assert refused.status_code == 400
    assert refused.json is not None
    assert message in refused.json["errors"]["q"][0]


def test_search_of_200_characters_is_a_search(
    client: FlaskClient, auth: AuthActions, lists: Lists
) -> None:
    auth.login(lists.email)
    assert client.get("/orgs", query_string={"q": "x" * 200}).status_code == 200


@pytest.mark.parametrize("where", ["orgs", "repos"])
def test_lists_json_echo_the_search_and_keep_it_in_paging(
    client: FlaskClient, auth: AuthActions, db: Session, where: str
) -> None:
    user = make_user(db)
    org_ids = bulk_organizations(db, 60, name="Echo {i:02}")
    bulk_roles(db, [(user.id, org_id, "OWNER") for org_id in org_ids])
    bulk_repositories(db, org_ids[0], 60, name="Echo {i:02}")
    db.commit()
    auth.login(user.email)
    path = "/orgs" if where == "orgs" else f"/orgs/{org_ids[0]}/repos"
    body = client.get(path, query_string={"q": " ECHO "}, headers=JSON).json
    assert body is not None
    assert body["search"] == {"q": "ECHO"}
    assert body["paging"]["total"] == 60 and body["paging"]["prev"] is None
    assert parse_qs(urlsplit(body["paging"]["next"]).query) == {
        "q": ["ECHO"],
        "page": ["2"],
    }
    unsearched = client.get(path, headers=JSON).json
    assert unsearched is not None and unsearched["search"] == {"q": ""}


def test_organization_list_search_pages_through_matches_keeping_it(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    user = make_user(db)
    org_ids = bulk_organizations(db, 120, name="Paged {i:03}")
    org_ids += bulk_organizations(db, 30, name="Other {i:03}")
    bulk_roles(db, [(user.id, org_id, "BILLING") for org_id in org_ids])
    db.commit()
    auth.login(user.email)
    response = client.get("/orgs", query_string={"q": "paged", "page": "3"})
    assert _org_names(response) == [f"Paged {i:03}" for i in range(100, 120)]
    assert "Showing 101–120 of 120 matching organizations" in response.text
    for href in _pager_links(response).values():
        assert parse_qs(urlsplit(href).query)["q"] == ["paged"]


# --- the viewer's role on each organization -----------------------------------------


def test_organization_list_says_the_viewers_role_on_each_row(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    user = make_user(db)
    names = {"Role A": "OWNER", "Role B": "MEMBER", "Role C": "BILLING"}
    orgs = {name: make_organization(db, name).id for name in names}
    bulk_roles(db, [(user.id, orgs[name], role) for name, role in names.items()])
    db.commit()
    auth.login(user.email)
    main = client.get("/orgs").text.split("<main", 1)[1]
    rows = re.findall(
        r'"org-link-name">([^<]*)</span> <span class="badge badge-(\w+)">'
        r'<span class="visually-hidden">Your role: </span>([^<]+)</span>',
        main,
    )
    assert rows == [
        ("Role A", "owner", "Owner"),
        ("Role B", "member", "Member"),
        ("Role C", "billing", "Billing manager"),
    ]
    body = client.get("/orgs", headers=JSON).json
    assert body is not None
    assert [(o["name"], o["role"]) for o in body["orgs"]] == list(names.items())


@contextmanager
def _statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        if args[2].strip().upper() != "BEGIN":
            seen.append(args[2])

    engine = app.extensions["portal.engine"]
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_organization_list_roles_cost_one_query_for_the_page(
    app: Flask, client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    # why: a role looked up per row is 50 queries a page
    few, many = make_user(db), make_user(db)
    # 49: one short page each (a full one would add its count).
    org_ids = bulk_organizations(db, 49, name="Counted {i:02}")
    bulk_roles(db, [(few.id, org_ids[0], "OWNER")])
    bulk_roles(db, [(many.id, org_id, "MEMBER") for org_id in org_ids])
    db.commit()
    counts = []
    for user in (few, many):
        auth.login(user.email)
        client.get("/orgs")  # warm the policy's caches
        with _statements(app) as seen:
            assert client.get("/orgs").status_code == 200
        counts.append(len(seen))
        assert sum("organization_role.name" in s for s in seen) >= 1
        auth.logout()
    assert counts[0] == counts[1]


# --- the numbered pager -------------------------------------------------------------


def _pager_links(response: TestResponse) -> dict[str, str]:
    """The pager's links: its label ("Page 3", "prev", "next") -> href."""
    nav = re.search(r'<nav class="pager".*?</nav>', response.text, re.S)
    if nav is None:
        return {}
    links = {}
    for attributes, _text in re.findall(r"<a ([^>]*)>([^<]*)</a>", nav.group(0)):
        href = html.unescape(re.search(r'href="([^"]*)"', attributes).group(1))  # type: ignore[union-attr]
        rel = re.search(r'rel="(\w+)"', attributes)
        label = re.search(r'aria-label="([^"]*)"', attributes)
        links[rel.group(1) if rel else label.group(1) if label else "?"] = href
    return links


def _current(response: TestResponse) -> list[str]:
    return re.findall(
        r'aria-current="page" class="pager-page[^"]*">([^<]+)<', response.text
    )


@pytest.fixture
def org_1000(db: Session) -> tuple[int, str]:
    """An organization with 1,000 repositories (20 pages) and a MEMBER's email."""
    (org_id,) = bulk_organizations(db, 1, name="Pager Org {n}")
    bulk_repositories(db, org_id, 1_000, name="r{i:04}")
    member = make_user(db)
    bulk_roles(db, [(member.id, org_id, "MEMBER")])
    db.commit()
    return org_id, member.email


@pytest.mark.parametrize(
    ("number", "pages", "gaps"),
    [
        (1, [1, 2, 3, 20], 1),
        (2, [1, 2, 3, 4, 20], 1),
        (5, [1, 2, 3, 4, 5, 6, 7, 20], 1),
        (10, [1, 8, 9, 10, 11, 12, 20], 2),
        (18, [1, 16, 17, 18, 19, 20], 1),
        (20, [1, 18, 19, 20], 1),
    ],
)
def test_pager_shows_first_last_and_a_window_around_the_page(
    client: FlaskClient,
    auth: AuthActions,
    org_1000: tuple[int, str],
    number: int,
    pages: list[int],
    gaps: int,
) -> None:
    org_id, email = org_1000
    auth.login(email)
    base = f"/orgs/{org_id}/repos"
    response = client.get(base, query_string={"page": number})
    links = _pager_links(response)
    numbered = {
        label: href for label, href in links.items() if label.startswith("Page")
    }
    assert list(numbered) == [f"Page {n}" for n in pages]
    for n in pages:  # page 1 has one address, without ?page=
        assert numbered[f"Page {n}"] == (base if n == 1 else f"{base}?page={n}")
    assert _current(response) == [str(number)]
    assert response.text.count('class="pager-gap"') == gaps
    assert f"Page {number} of 20" in response.text
    assert ("prev" in links) is (number > 1) and ("next" in links) is (number < 20)


def test_pager_links_every_page_it_shows_and_none_past_the_last(
    client: FlaskClient, auth: AuthActions, org_1000: tuple[int, str]
) -> None:
    org_id, email = org_1000
    auth.login(email)
    for number in (1, 19, 20):
        response = client.get(f"/orgs/{org_id}/repos?page={number}")
        for href in _pager_links(response).values():
            assert client.get(href).status_code == 200, href


def test_pager_page_out_of_range_is_still_not_found(
    client: FlaskClient, auth: AuthActions, org_1000: tuple[int, str]
) -> None:
    org_id, email = org_1000
    auth.login(email)
    response = client.get(f"/orgs/{org_id}/repos?page=21")
    assert response.status_code == 404
    assert "There is no page 21; the list has 20 pages." in response.text
    searched = client.get(f"/orgs/{org_id}/repos?q=r0001&page=2")
    assert searched.status_code == 404
    assert "There is no page 2; the list has 1 page." in searched.text


def test_pager_numbers_keep_the_roles_search(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    (org_id,) = bulk_organizations(db, 1, name="Crowd {n}")
    owner = make_user(db)
    members = [make_user(db, f"crowd-{i:03}@example.com").id for i in range(160)]
    bulk_roles(db, [(owner.id, org_id, "OWNER")])
    bulk_roles(db, [(member, org_id, "MEMBER") for member in members])
    db.commit()
    auth.login(owner.email)
    response = client.get(f"/orgs/{org_id}/roles?q=crowd-&role=MEMBER&page=2")
    links = _pager_links(response)
    assert set(links) == {"prev", "next", "Page 1", "Page 2", "Page 3", "Page 4"}
    for label, href in links.items():
        query = parse_qs(urlsplit(href).query)
        assert query["q"] == ["crowd-"] and query["role"] == ["MEMBER"], label
    assert "page" not in parse_qs(urlsplit(links["Page 1"]).query)


def test_pager_numbers_page_the_audit_log(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    bulk_audit_entries(db, demo.BEATLES_ID, 120)
    db.commit()
    auth.login(demo.JOHN)
    response = client.get("/orgs/1/audit?page=2")
    assert response.status_code == 200
    assert list(_pager_links(response)) == [
        "prev",
        "Page 1",
        "Page 2",
        "Page 3",
        "next",
    ]
    assert _current(response) == ["2"]


# --- the header --------------------------------------------------------------------


@pytest.mark.parametrize("email", [demo.JOHN, demo.PAUL, demo.ADMIN])
def test_account_menu_names_the_user_with_password_and_logout(
    client: FlaskClient, auth: AuthActions, email: str
) -> None:
    auth.login(email)
    page = client.get("/orgs").text
    menu = re.search(
        r'<details class="account-menu" data-menu>.*?</details>', page, re.S
    )
    assert menu is not None
    text = " ".join(re.sub(r"<[^>]+>", " ", menu.group(0)).split())
    assert f"Signed in as {email}" in text
    assert '<a href="/account/password">Change your password</a>' in menu.group(0)
    # Logging out stays a POST with the CSRF token.
    assert re.search(
        r'<form method="post" action="/logout"[^>]*>\s*'
        r'<input type="hidden" name="csrf_token" value="[^"]+">\s*'
        r'<button type="submit"[^>]*>Log out</button>',
        menu.group(0),
    )


def test_account_menu_is_not_shown_to_anonymous_visitors(client: FlaskClient) -> None:
    assert "account-menu" not in client.get("/login").text


def test_switcher_is_labelled_with_the_current_organization(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.JOHN)
    toggle = re.compile(r'<summary class="switcher-toggle">(.*?)</summary>', re.S)

    def label(path: str) -> str:
        found = toggle.search(client.get(path).text)
        assert found is not None
        return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())

    assert label("/orgs/1/repos") == "Switch organization, now in The Beatles"
    assert label("/orgs") == "Switch organization"
    assert label("/account/password") == "Switch organization"


@pytest.mark.parametrize(("count", "finder"), [(10, False), (11, True)])
def test_switcher_offers_a_finder_past_ten_organizations(
    client: FlaskClient, auth: AuthActions, db: Session, count: int, finder: bool
) -> None:
    user = make_user(db)
    org_ids = bulk_organizations(db, count, name="Find {i:02}")
    bulk_roles(db, [(user.id, org_id, "MEMBER") for org_id in org_ids])
    db.commit()
    auth.login(user.email)
    page = client.get("/account/password").text
    form = re.search(
        r'<form method="get" action="/orgs" class="switcher-find".*?</form>', page, re.S
    )
    assert (form is not None) is finder
    if form is not None:
        assert 'name="q"' in form.group(0)
        assert '<label for="switcher-q">Find an organization</label>' in form.group(0)
