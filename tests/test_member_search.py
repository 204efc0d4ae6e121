"""Find people on the roles page: search by email, filter by role, page, counts.

Through HTTP, as john (OWNER of The Beatles) or paul (a MEMBER, who may list the
roles too). The Beatles: john OWNER, paul and ringo MEMBER, george BILLING.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal.authz import get_oso
from portal.domain import demo
from tests.conftest import AuthActions, roles_snapshot, user_by_email
from tests.factories import (
    bulk_organizations,
    bulk_roles,
    bulk_users,
    make_user,
    unique_number,
)

BEATLES = f"/orgs/{demo.BEATLES_ID}/roles"


def _emails(response: TestResponse) -> list[str]:
    """The emails in the members table, in the order shown."""
    return re.findall(
        r"<td class=\"col-email\"><a href=\"[^\"]+\">([^<]+)</a>", response.text
    )


def _text(response: TestResponse) -> str:
    """The page's HTML with entities decoded (quotes and apostrophes)."""
    return html.unescape(response.text)


def _role_links(response: TestResponse) -> dict[str, str]:
    """The role filter's links: label ("All", "Owner"...) -> href."""
    found = re.findall(
        r'<a href="([^"]+)"\s+(?:aria-current="true" )?class="role-filter-link'
        r'[^"]*">([^<]+) <span',
        response.text,
    )
    return {label: html.unescape(href) for href, label in found}


def _query(href: str) -> dict[str, list[str]]:
    """The query string of a link, parsed."""
    return parse_qs(urlsplit(href).query)


@pytest.fixture
def crowd(db: Session) -> tuple[int, str]:
    """An organization where john is OWNER, paul a MEMBER, and 140 more: the
    first 120 MEMBER, the last 20 BILLING; (its id, the 140's email prefix)."""
    prefix = f"crowd{unique_number()}-"
    (org_id,) = bulk_organizations(db, 1)
    users = bulk_users(db, 140, email=prefix + "{i:03}@example.com")
    john, paul = user_by_email(db, demo.JOHN), user_by_email(db, demo.PAUL)
    roles = [(john.id, org_id, "OWNER"), (paul.id, org_id, "MEMBER")]
    roles += [
        (uid, org_id, "MEMBER" if i < 120 else "BILLING") for i, uid in enumerate(users)
    ]
    bulk_roles(db, roles)
    db.commit()
    return org_id, prefix


def test_role_list_search_finds_a_substring(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    assert _emails(client.get(f"{BEATLES}?q=ingo@beat")) == [demo.RINGO]


def test_role_list_search_ignores_case(client: FlaskClient, auth: AuthActions) -> None:
    auth.login()
    assert _emails(client.get(f"{BEATLES}?q=RINGO")) == [demo.RINGO]


@pytest.mark.parametrize("wildcard", ["%", "_"])
def test_role_list_search_takes_wildcards_literally(
    client: FlaskClient, auth: AuthActions, db: Session, wildcard: str
) -> None:
    # why: unescaped, "a%b" and "a_b" in LIKE would also match "axb"
    number = unique_number()
    literal = make_user(db, f"a{wildcard}b{number}@example.com")
    other = make_user(db, f"axb{number}@example.com")
    organization_id = demo.BEATLES_ID
    bulk_roles(db, [(u.id, organization_id, "MEMBER") for u in (literal, other)])
    db.commit()
    auth.login()
    response = client.get(BEATLES, query_string={"q": f"a{wildcard}b{number}"})
    assert _emails(response) == [literal.email]


@pytest.mark.parametrize("wildcard", ["%", "_"])
def test_role_list_search_for_a_wildcard_alone_finds_nobody(
    client: FlaskClient, auth: AuthActions, wildcard: str
) -> None:
    auth.login()
    response = client.get(BEATLES, query_string={"q": wildcard})
    assert response.status_code == 200 and _emails(response) == []


def test_role_list_role_filter_shows_only_that_role(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    response = client.get(f"{BEATLES}?role=MEMBER")
    assert _emails(response) == [demo.PAUL, demo.RINGO]


def test_role_list_search_combines_email_and_role(
    client: FlaskClient, auth: AuthActions
) -> None:
    # why: "r" is in ringo's and george's emails; only ringo is a MEMBER
    auth.login()
    assert _emails(client.get(f"{BEATLES}?q=r&role=MEMBER")) == [demo.RINGO]


def test_role_list_search_works_for_a_member(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.PAUL)
    response = client.get(f"{BEATLES}?q=ringo&role=MEMBER")
    assert response.status_code == 200 and _emails(response) == [demo.RINGO]


def test_role_list_counts_members_per_role_whatever_the_search(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    response = client.get(f"{BEATLES}?q=ringo")
    counts = re.findall(
        r'>([^<>]+) <span class="role-filter-count">([\d,]+)</span>', response.text
    )
    assert counts == [
        ("All", "4"),
        ("Owner", "1"),
        ("Member", "2"),
        ("Billing manager", "1"),
    ]


def test_role_list_counts_a_large_organization_with_thousands_separators(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    (org_id,) = bulk_organizations(db, 1)
    users = bulk_users(db, 1_001)
    bulk_roles(db, [(user_by_email(db, demo.JOHN).id, org_id, "OWNER")])
    bulk_roles(db, [(uid, org_id, "MEMBER") for uid in users])
    db.commit()
    auth.login()
    text = client.get(f"/orgs/{org_id}/roles").text
    assert 'All <span class="role-filter-count">1,002</span>' in text
    assert 'Member <span class="role-filter-count">1,001</span>' in text


def test_role_list_role_links_keep_the_search_and_mark_the_current_role(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    response = client.get(f"{BEATLES}?q=rin&role=MEMBER&page=1")
    links = _role_links(response)
    assert {label: _query(href) for label, href in links.items()} == {
        "All": {"q": ["rin"]},
        "Owner": {"q": ["rin"], "role": ["OWNER"]},
        "Member": {"q": ["rin"], "role": ["MEMBER"]},
        "Billing manager": {"q": ["rin"], "role": ["BILLING"]},
    }
    assert re.findall(
        r'aria-current="true" class="role-filter-link[^>]*>(\w+)', response.text
    ) == ["Member"]


def test_role_list_search_says_how_many_match(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    assert "4 members match" in client.get(f"{BEATLES}?q=beatles").text
    assert "1 member matches" in client.get(f"{BEATLES}?q=rin").text


def test_role_list_search_without_a_match_says_so_with_a_way_back(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    response = client.get(f"{BEATLES}?q=xyz")
    assert response.status_code == 200 and _emails(response) == []
    assert "No member's email contains 'xyz'." in _text(response)
    assert f'<a href="{BEATLES}">Clear the search</a>' in response.text


def test_role_list_search_keeps_what_was_typed(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login()
    text = client.get(f"{BEATLES}?q=rin&role=MEMBER").text
    assert re.search(r'<input[^>]*name="q"[^>]*value="rin"', text)
    assert '<option selected value="MEMBER">' in text


def test_role_list_pager_links_keep_search_and_role(
    client: FlaskClient, auth: AuthActions, crowd: tuple[int, str]
) -> None:
    org_id, prefix = crowd
    auth.login()
    response = client.get(f"/orgs/{org_id}/roles?q={prefix}&role=MEMBER&page=2")
    links = dict(re.findall(r'rel="(prev|next)" href="([^"]+)"', response.text))
    assert _query(html.unescape(links["prev"])) == {"q": [prefix], "role": ["MEMBER"]}
    assert _query(html.unescape(links["next"])) == {
        "page": ["3"],
        "q": [prefix],
        "role": ["MEMBER"],
    }


def test_role_list_search_pages_through_a_large_organization(
    client: FlaskClient, auth: AuthActions, crowd: tuple[int, str]
) -> None:
    org_id, prefix = crowd
    auth.login()
    response = client.get(
        f"/orgs/{org_id}/roles",
        query_string={"q": prefix.upper(), "role": "MEMBER", "page": "2"},
    )
    assert response.status_code == 200
    assert _emails(response) == [f"{prefix}{i:03}@example.com" for i in range(50, 100)]
    assert "Showing 51–100 of 120 matching members" in response.text
    assert "Page 2 of 3" in response.text


BAD_INPUT = [
    ({"page": "0"}, 400, "The page number must be a whole number from 1 up."),
    ({"page": "-1"}, 400, "The page number must be a whole number from 1 up."),
    ({"page": "abc"}, 400, "The page number must be a whole number from 1 up."),
    ({"page": "999999"}, 404, "There is no page 999,999; the list has 1 page."),
    (
        {"role": "owner"},
        400,
        "Choose one of Owner, Member or Billing manager, or All roles.",
    ),
    ({"q": "a" * 10_000}, 400, "Search for at most 254 characters."),
    ({"q": "ringo\x00"}, 400, "Remove the control characters from this field."),
    ({"q": "ringo\n"}, 200, "1 member matches"),  # trailing whitespace is trimmed
]


@pytest.mark.parametrize(("args", "status", "message"), BAD_INPUT)
def test_role_list_refuses_bad_search_input_in_the_layout(
    client: FlaskClient,
    auth: AuthActions,
    db: Session,
    args: dict[str, str],
    status: int,
    message: str,
) -> None:
    auth.login()
    before = roles_snapshot(db)
    response = client.get(BEATLES, query_string=args)
    assert response.status_code == status
    assert message in response.text
    assert ">Log out</button>" in response.text  # in the layout
    assert roles_snapshot(db) == before


@contextmanager
def _statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])  # (conn, cursor, statement, ...)

    engine = app.extensions["portal.engine"]
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("query", ["", "?q=e&role=MEMBER", "?q=e&page=1"])
def test_role_list_statements_do_not_grow_with_the_members(
    app: Flask, client: FlaskClient, auth: AuthActions, db: Session, query: str
) -> None:
    # why: a query per row (a lazy load of each role's user, say) would pass
    # every other test at 4 members and crawl at 1,000
    (org_id,) = bulk_organizations(db, 1)
    users = bulk_users(db, 299)
    bulk_roles(db, [(user_by_email(db, demo.JOHN).id, org_id, "OWNER")])
    bulk_roles(db, [(uid, org_id, "MEMBER") for uid in users])
    db.commit()
    auth.login()
    small, large = f"{BEATLES}{query}", f"/orgs/{org_id}/roles{query}"
    client.get(small), client.get(large)  # the same caches warm for both
    with _statements(app) as for_small:
        assert client.get(small).status_code == 200
    with _statements(app) as for_large:
        assert client.get(large).status_code == 200
    assert len(_emails(client.get(large))) == 50
    # One more: the full page's count (a short page is the last: it counts none).
    assert len(for_large) == len(for_small) + 1


def test_role_list_statements_do_not_grow_with_the_rows_on_a_cold_cache(
    app: Flask, client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    # why: deciding each row's controls followed role.organization with a SELECT
    # per rule (three per row) whenever the answers were not cached yet
    (org_id,) = bulk_organizations(db, 1)
    users = bulk_users(db, 99)
    bulk_roles(db, [(user_by_email(db, demo.JOHN).id, org_id, "OWNER")])
    bulk_roles(db, [(uid, org_id, "MEMBER") for uid in users])
    db.commit()
    auth.login()
    oso = get_oso(app)
    counts = []
    for path in (BEATLES, f"/orgs/{org_id}/roles"):
        client.get(path)  # templates compiled, the session's user loaded
        oso.clear_caches()
        with _statements(app) as statements:
            page = client.get(path)
        assert page.status_code == 200
        counts.append(len(statements))
    assert page.text.count('class="row-role"') == 49  # all but john's own row
    # One more on the full page: a full page counts its list (a short one is
    # its own count, see portal.domain.paging), whatever the number of rows.
    assert counts[1] == counts[0] + 1


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            "q=ringo&q=paul",
            "q",
            "Give one search, not several. Send the query parameter q once.",
        ),
        (
            "role=MEMBER&role=OWNER",
            "role",
            "Give one role, not several. Send the query parameter role once.",
        ),
        (
            "q=ringo&page=1&page=2",
            None,
            "Give one page number, not several. Send the query parameter page once.",
        ),
    ],
    ids=["q", "role", "page"],
)
def test_role_list_refuses_a_repeated_query_parameter_by_name(
    client: FlaskClient, auth: AuthActions, query: str, field: str | None, message: str
) -> None:
    # why: a repeated q or role silently took the first value while a repeated
    # page was a 400: one rule for every parameter of the list, the one that
    # guesses nothing
    auth.login()
    response = client.get(f"{BEATLES}?{query}")
    assert response.status_code == 400
    assert message in _text(response)
    assert ">Log out</button>" in response.text  # in the layout
    answer = client.get(f"{BEATLES}?{query}", headers={"Accept": "application/json"})
    assert answer.status_code == 400
    assert answer.json is not None
    assert answer.json["message"] == message
    if field is not None:
        assert answer.json["errors"] == {field: [message]}


def test_role_list_search_hint_fits_any_organization(
    client: FlaskClient, auth: AuthActions
) -> None:
    # why: the hint said "e.g. ringo or @beatles.com" in every organization
    auth.login(demo.MIKE)
    page = client.get(f"/orgs/{demo.MONSTERS_ID}/roles").text
    assert 'placeholder="A name or @domain"' in page
    assert "beatles" not in page.lower()
