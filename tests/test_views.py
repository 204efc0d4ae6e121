"""The guide's walkthrough and the organization pages, over HTTP."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask, template_rendered
from flask.testing import FlaskClient
from jinja2 import UndefinedError
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from portal.authz import Viewer, get_oso
from portal.domain import demo, scale
from portal.domain.models import ROLE_NAMES, Organization, Repository
from portal.infra import db as portal_db
from tests.conftest import (
    AuthActions,
    RoleActions,
    role_of,
    roles_snapshot,
    user_by_email,
)
from tests.factories import (
    bulk_organizations,
    bulk_repositories,
    bulk_roles,
    make_user,
)
from tests.routes import LOGIN, TARGET_ID, TARGET_ROLE_ID, organization_routes, pages


def test_organization_list_shows_only_my_organizations(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.PAUL)
    page = client.get("/orgs").text
    assert "The Beatles" in page and "Monsters Inc." not in page


def test_organization_list_is_empty_for_a_user_without_roles(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.ADMIN)
    page = client.get("/orgs").text
    assert "You do not belong to any organization yet." in page


def test_member_sees_repositories_but_not_billing(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.PAUL)
    repos = client.get("/orgs/1/repos")
    assert repos.status_code == 200 and "Abbey Road" in repos.text
    billing = client.get("/orgs/1/billing")
    assert billing.status_code == 403
    assert "You don't have access to this page" in billing.text
    assert "64 Penny Ln" not in billing.text


def test_forbidden_page_names_the_organization_and_what_was_refused(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    auth.login(demo.PAUL)
    page = client.get("/orgs/1/billing").text
    # in words: the role's name and the permission's (never its code)
    assert "Your role in The Beatles" in page and ">Member</span>" in page
    assert "does not let you see the billing details, which this page needs" in page
    assert "READ_BILLING" not in page
    assert '<a class="button" href="/orgs/1">Back to The Beatles</a>' in page
    # a role row refused: the page says what to whom
    ringo = user_by_email(db, demo.RINGO).id
    removal = client.get(f"/orgs/1/roles/{ringo}/delete")
    assert removal.status_code == 403
    assert "does not let you remove ringo@beatles.com from The Beatles" in removal.text


def test_billing_refused_roles_names_list_roles(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.GEORGE)
    page = client.get("/orgs/1/roles").text
    assert "does not let you see who is here" in page and "Back to The Beatles" in page
    assert "LIST_ROLES" not in page


def test_not_found_page_names_no_organization(
    client: FlaskClient, auth: AuthActions
) -> None:
    # why: an organization the user cannot read stays a 404 that reveals nothing
    auth.login(demo.PAUL)
    response = client.get(f"/orgs/{demo.MONSTERS_ID}/billing")
    assert response.status_code == 404
    assert "Monsters" not in response.text
    assert "Back to your organizations" in response.text


def test_overview_links_follow_the_policy(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.PAUL)
    page = client.get("/orgs/1").text
    assert 'href="/orgs/1/repos"' in page and 'href="/orgs/1/roles"' in page
    assert 'href="/orgs/1/billing"' not in page


def test_billing_user_sees_billing_only(client: FlaskClient, auth: AuthActions) -> None:
    auth.login(demo.GEORGE)
    page = client.get("/orgs/1").text
    assert 'href="/orgs/1/billing"' in page
    assert 'href="/orgs/1/repos"' not in page and 'href="/orgs/1/roles"' not in page
    assert "64 Penny Ln Liverpool, UK" in client.get("/orgs/1/billing").text
    assert client.get("/orgs/1/repos").status_code == 403
    assert client.get("/orgs/1/roles").status_code == 403


def test_roles_page_counts_the_members_once(
    client: FlaskClient, auth: AuthActions
) -> None:
    # why: unfiltered on one page, "All 4" said what "4 members" said again
    auth.login(demo.JOHN)
    page = client.get("/orgs/1/roles").text
    assert (
        'aria-current="true" class="role-filter-link role-filter-current">All' in page
    )
    assert '<p class="page-summary">' not in page
    # a search still says how many it found
    assert "2 members match" in client.get("/orgs/1/roles?role=MEMBER").text


def test_member_sees_roles_without_the_form(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.PAUL)
    page = client.get("/orgs/1/roles").text
    assert demo.GEORGE in page and "BILLING" in page
    assert 'name="user_email"' not in page


def test_owner_sees_billing_and_the_role_form(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.JOHN)
    assert "64 Penny Ln Liverpool, UK" in client.get("/orgs/1/billing").text
    page = client.get("/orgs/1/roles").text
    assert 'name="user_email"' in page and '<option value="BILLING">' in page


def test_walkthrough_john_makes_ringo_billing(
    app: Flask, client: FlaskClient, auth: AuthActions, roles: RoleActions, db: Session
) -> None:
    # The README's walk: Ringo's row on the People page (its Change posts to his
    # member page, and comes back to the list).
    auth.login(demo.JOHN)
    response = client.post(
        f"/orgs/1/roles/{TARGET_ID}",
        data={
            "csrf_token": roles.csrf_token(),
            "name": "BILLING",
            "current": "MEMBER",
            "current_id": str(TARGET_ROLE_ID),
            "back": "/orgs/1/roles",
        },
    )
    assert response.status_code == 302 and response.location == "/orgs/1/roles"
    page = client.get("/orgs/1/roles").text
    assert (
        "ringo@beatles.com is now a Billing manager. They can now see the billing"
        " details, open the settings and change the billing address; they can no"
        " longer see the repositories, create repositories or see who is here." in page
    )
    assert role_of(db, demo.RINGO, 1) == "BILLING"
    ringo = app.test_client()
    AuthActions(ringo).login(demo.RINGO)
    assert ringo.get("/orgs/1/billing").status_code == 200
    assert ringo.get("/orgs/1/repos").status_code == 403


def test_owner_adds_a_user_without_a_role(
    client: FlaskClient, auth: AuthActions, roles: RoleActions, db: Session
) -> None:
    # Issue 19: adding is inviting; the role is theirs once they accept
    # (tests/test_invitations.py follows the link).
    auth.login(demo.JOHN)
    assert roles.assign(1, demo.ADMIN, "MEMBER").status_code == 302
    page = client.get("/orgs/1/roles").text
    assert "Invitation sent to admin@admin.com." in page
    assert "Pending invitations" in page
    assert role_of(db, demo.ADMIN, 1) is None


@pytest.mark.parametrize("email", [demo.RINGO, demo.PAUL, demo.GEORGE])
def test_non_owners_cannot_assign_roles(app: Flask, db: Session, email: str) -> None:
    client = app.test_client()
    AuthActions(client).login(email)
    before = roles_snapshot(db)
    response = RoleActions(client).assign(1, email, "OWNER")
    assert response.status_code == 403
    assert roles_snapshot(db) == before


@pytest.mark.parametrize(
    "path",
    [
        route.path_for(org_id)
        for route in organization_routes("GET")
        for org_id in (demo.MONSTERS_ID, 999)
    ],
)
def test_other_tenants_pages_are_not_found(
    client: FlaskClient, auth: AuthActions, path: str
) -> None:
    auth.login(demo.JOHN)
    response = client.get(path)
    assert response.status_code == 404
    assert "Page not found" in response.text


def test_other_tenants_role_form_is_not_found(
    auth: AuthActions, roles: RoleActions, db: Session
) -> None:
    auth.login(demo.JOHN)
    before = roles_snapshot(db)
    assert roles.assign(2, demo.JOHN, "OWNER").status_code == 404
    assert roles_snapshot(db) == before


def test_role_post_without_csrf_token_is_refused(
    auth: AuthActions, roles: RoleActions, db: Session
) -> None:
    auth.login(demo.JOHN)
    before = roles_snapshot(db)
    response = roles.assign(1, demo.RINGO, "OWNER", token=None)
    assert response.status_code == 400
    assert "This form has expired" in response.text
    assert roles_snapshot(db) == before


@pytest.mark.parametrize(
    ("email", "name", "status", "message"),
    [
        (demo.RINGO, "ADMIN", 422, "Choose one of Owner, Member or Billing manager."),
        (demo.RINGO, "owner", 422, "Choose one of Owner, Member or Billing manager."),
        (demo.RINGO, "", 422, "Choose one of Owner, Member or Billing manager."),
        ("nobody", "MEMBER", 422, "That is not an email address"),
        ("", "MEMBER", 422, "Enter the email of the person."),
        (demo.PAUL, "MEMBER", 409, "paul@beatles.com is already a Member here."),
        # The form changes no role (issue 19): refused before the last-owner rule.
        (demo.JOHN, "MEMBER", 409, "john@beatles.com is already an Owner here."),
    ],
)
def test_bad_role_input_gets_a_form_error_and_changes_nothing(
    auth: AuthActions,
    roles: RoleActions,
    db: Session,
    email: str,
    name: str,
    status: int,
    message: str,
) -> None:
    auth.login(demo.JOHN)
    before = roles_snapshot(db)
    response = roles.assign(1, email, name)
    assert response.status_code == status
    assert message in response.text.replace("&#39;", "'")
    assert 'name="user_email"' in response.text  # the form comes back
    assert roles_snapshot(db) == before


def test_role_form_keeps_what_was_typed(auth: AuthActions, roles: RoleActions) -> None:
    auth.login(demo.JOHN)
    response = roles.assign(1, "nobody@", "BILLING")
    assert response.status_code == 422
    assert 'value="nobody@"' in response.text
    assert '<option selected value="BILLING">' in response.text


def test_pages_render_in_the_layout_with_logout(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.PAUL)
    # Every page behind the login, the ones Paul may not open (403) included.
    for page in pages():
        if page.route.expected["anonymous"] == LOGIN:
            text = client.get(page.path).text
            assert demo.PAUL in text and ">Log out</button>" in text, page


@contextmanager
def _statements(app: Flask) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block, without the
    transaction control (SQLite's BEGIN, which PostgreSQL's driver does not send
    as a statement)."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement: str = args[2]  # (conn, cursor, statement, ...)
        if statement.strip().upper() != "BEGIN":
            seen.append(statement)

    engine = app.extensions["portal.engine"]
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("email", [demo.JOHN, demo.PAUL, demo.GEORGE])
def test_overview_statements_are_pinned(
    app: Flask, client: FlaskClient, auth: AuthActions, email: str
) -> None:
    # why: the overview ran 11 statements, 7 of them the Leave button's dry runs
    # repeating the role SELECT and the owner count. Now: the session's user, the
    # organization, the viewer's role name (the policy's), the own role row with
    # the owner count (one statement), the header's switcher; then one statement
    # per piece of the overview the policy lets the viewer see: the repository
    # count, the counts per role and the owners named, the latest changes.
    auth.login(email)
    client.get("/orgs/1")  # warm the policy's caches, as a second visit finds them
    with _statements(app) as seen:
        assert client.get("/orgs/1").status_code == 200
    with app.test_request_context():
        session = portal_db.get_session()
        viewer = Viewer(session, user_by_email(session, email).id)
        allowed = get_oso().authorized_actions(viewer, session.get(Organization, 1))
    pieces = {"LIST_REPOS": 1, "LIST_ROLES": 2, "READ_AUDIT": 1}
    expected = 5 + sum(count for action, count in pieces.items() if action in allowed)
    assert len(seen) == expected, "\n".join(seen)


@contextmanager
def _shown_rows(app: Flask, name: str) -> Iterator[list[Any]]:
    """The rows of the Page called name in every template rendered meanwhile."""
    shown: list[Any] = []

    def record(sender: Flask, template: Any, context: dict[str, Any]) -> None:
        if name in context:
            shown.extend(context[name].items)

    with template_rendered.connected_to(record, app):
        yield shown


def _walk_pages(client: FlaskClient, path: str, row: str) -> list[int]:
    """The ids (row: a regex with one group) on every page, following Next."""
    ids: list[int] = []
    next_link: str | None = path
    while next_link is not None:
        response = client.get(next_link)
        assert response.status_code == 200, next_link
        ids += [int(found) for found in re.findall(row, response.text)]
        match = re.search(r'rel="next" href="([^"]+)"', response.text)
        next_link = match.group(1) if match else None
    return ids


# Paged lists: 50 rows a page, ordered by name then id, bad page values refused.


@pytest.fixture
def org_120(db: Session) -> tuple[int, str]:
    """An organization with 120 repositories (r000..r119) and a MEMBER's email."""
    (org_id,) = bulk_organizations(db, 1, name="Paged Org {n}")
    bulk_repositories(db, org_id, 120, name="r{i:03}")
    member = make_user(db)
    bulk_roles(db, [(member.id, org_id, "MEMBER")])
    db.commit()
    return org_id, member.email


@pytest.mark.parametrize(
    ("query", "summary", "first", "last", "where"),
    [
        ("", "Showing 1–50 of 120 repositories", "r000", "r049", "Page 1 of 3"),
        (
            "?page=2",
            "Showing 51–100 of 120 repositories",
            "r050",
            "r099",
            "Page 2 of 3",
        ),
        (
            "?page=3",
            "Showing 101–120 of 120 repositories",
            "r100",
            "r119",
            "Page 3 of 3",
        ),
    ],
)
def test_repository_list_shows_one_page_with_the_total(
    client: FlaskClient,
    auth: AuthActions,
    org_120: tuple[int, str],
    query: str,
    summary: str,
    first: str,
    last: str,
    where: str,
) -> None:
    org_id, email = org_120
    auth.login(email)
    response = client.get(f"/orgs/{org_id}/repos{query}")
    assert response.status_code == 200
    names = re.findall(r'<td><a href="[^"]*">(r\d{3})</a></td>', response.text)
    assert names == sorted(names) and (names[0], names[-1]) == (first, last)
    assert summary in response.text and where in response.text


def test_repository_list_pager_links_follow_the_page(
    client: FlaskClient, auth: AuthActions, org_120: tuple[int, str]
) -> None:
    org_id, email = org_120
    auth.login(email)
    base = f"/orgs/{org_id}/repos"
    links = re.compile(r'rel="(prev|next)" href="([^"]+)"')
    assert links.findall(client.get(base).text) == [("next", f"{base}?page=2")]
    # Page 1 is linked without ?page=, so it has one address.
    assert links.findall(client.get(f"{base}?page=2").text) == [
        ("prev", base),
        ("next", f"{base}?page=3"),
    ]
    assert links.findall(client.get(f"{base}?page=3").text) == [
        ("prev", f"{base}?page=2")
    ]


def test_repository_list_pages_in_name_order_without_repeats(
    app: Flask, client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    # why: the pages of a list are read in (name, id) order from the index; two
    # pages together show every repository once, in name order (names of one
    # organization are unique ignoring case, so the id breaks no tie here: the
    # list across organizations, /repos, is where equal names meet)
    (org_id,) = bulk_organizations(db, 1)
    ids = bulk_repositories(db, org_id, 60, name="repo {n}")
    member = make_user(db)
    bulk_roles(db, [(member.id, org_id, "OWNER")])
    db.commit()
    names = dict(db.execute(select(Repository.id, Repository.name)).all())
    auth.login(member.email)
    with _shown_rows(app, "repositories") as shown:
        client.get(f"/orgs/{org_id}/repos")
        client.get(f"/orgs/{org_id}/repos?page=2")
    assert [repository.id for repository in shown] == sorted(
        ids, key=lambda repo_id: (names[repo_id], repo_id)
    )


def test_short_lists_show_no_pager(client: FlaskClient, auth: AuthActions) -> None:
    auth.login(demo.JOHN)
    page = client.get("/orgs/1/repos").text
    assert "1 repository" in page and 'class="pager"' not in page


BAD_PAGES = [
    ("page=0", 400, "The page number must be a whole number from 1 up."),
    ("page=-1", 400, "The page number must be a whole number from 1 up."),
    ("page=abc", 400, "The page number must be a whole number from 1 up."),
    ("page=", 400, "The page number must be a whole number from 1 up."),
    ("page=1.5", 400, "The page number must be a whole number from 1 up."),
    ("page=%EF%BC%92", 400, "The page number must be a whole number from 1 up."),
    ("page=" + "9" * 10_000, 400, "The page number must be a whole number from 1 up."),
    ("page=1&page=2", 400, "Give one page number, not several."),
    ("page=4", 404, "There is no page 4; the list has 3 pages."),
    ("page=1000000000", 404, "There is no page 1,000,000,000; the list has 3 pages."),
    (
        "page=" + "9" * 18,
        404,
        "There is no page 999,999,999,999,999,999; the list has 3 pages.",
    ),
]


@pytest.mark.parametrize(("query", "status", "message"), BAD_PAGES)
def test_repository_list_refuses_bad_pages_in_the_layout(
    client: FlaskClient,
    auth: AuthActions,
    org_120: tuple[int, str],
    query: str,
    status: int,
    message: str,
) -> None:
    org_id, email = org_120
    auth.login(email)
    response = client.get(f"/orgs/{org_id}/repos?{query}")
    assert response.status_code == status
    assert message in response.text
    assert ">Log out</button>" in response.text  # in the layout


@pytest.mark.parametrize(("query", "status", "message"), BAD_PAGES[:8])
def test_organization_list_refuses_bad_pages_in_the_layout(
    client: FlaskClient, auth: AuthActions, query: str, status: int, message: str
) -> None:
    auth.login(demo.JOHN)
    response = client.get(f"/orgs?{query}")
    assert response.status_code == status and message in response.text


def test_organization_list_beyond_the_last_page_is_not_found(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.JOHN)
    response = client.get("/orgs?page=2")
    assert response.status_code == 404
    assert "There is no page 2; the list has 1 page." in response.text


def test_organization_list_page_one_of_nothing_is_the_empty_state(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.ADMIN)
    assert "You do not belong" in client.get("/orgs?page=1").text
    response = client.get("/orgs?page=2")
    assert response.status_code == 404
    assert "There is no page 2; the list is empty." in response.text


def test_organization_list_pages_through_many_organizations(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    member = make_user(db)
    org_ids = bulk_organizations(db, 120, name="Many {i:03}")
    bulk_roles(db, [(member.id, org_id, "BILLING") for org_id in org_ids])
    db.commit()
    auth.login(member.email)
    shown = []
    for number in (1, 2, 3):
        page = client.get(f"/orgs?page={number}").text
        assert f"Page {number} of 3" in page
        main = page.split("<main", 1)[1]  # not the header's switcher
        shown += re.findall(r'class="org-link-name">(Many \d{3})<', main)
    assert shown == [f"Many {i:03}" for i in range(120)]
    assert "Showing 101–120 of 120 organizations" in page


def test_organization_list_of_a_crowded_organizations_member_shows_only_theirs(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    # why: 1,000 members share the organization; none may see the user with
    # 1,000 roles' other organizations through it
    # No repository grants: they make some members MEMBERs of other
    # organizations too (the grantee must hold a role there).
    sizes = scale.Scale(
        organizations=30,
        repositories=100,
        big_org_repositories=60,
        user_roles=25,
        grants=0,
        user_grants=0,
        big_org_grants=0,
    )
    scale.seed_scale(db, sizes)
    db.commit()
    auth.login(scale.MEMBER_EMAIL.format(500))
    page = client.get("/orgs").text
    assert re.findall(r'class="org-link-name">([^<]+)<', page) == [
        scale.org_name(scale.CROWDED_ORG)
    ]
    assert "1 organization<" in page


def test_paged_lists_equal_per_row_decisions(
    app: Flask, client: FlaskClient, db: Session
) -> None:
    # why: paging must not drop or repeat rows the policy allows, nor show others
    # (tests/test_policy.py checks the unpaged lists the same way)
    rng = random.Random(11)
    users = [make_user(db) for _ in range(4)]
    org_ids = bulk_organizations(db, 130, name="Random {i:03}")
    # Repeated names: the order must still be total (name, then id).
    db.execute(
        update(Organization)
        .where(Organization.id.in_(org_ids[::3]))
        .values(name="Random same")
    )
    for org_id in rng.sample(org_ids, 40):
        bulk_repositories(db, org_id, rng.randint(0, 3))
    bulk_roles(
        db,
        [
            (user.id, org_id, rng.choice(ROLE_NAMES))
            for user in users
            for org_id in rng.sample(org_ids, rng.randint(40, 120))
        ],
    )
    db.commit()
    longest = 0
    for user in users:
        viewer = app.test_client()
        AuthActions(viewer).login(user.email)
        listed = _walk_pages(viewer, "/orgs", r'class="org-link" href="/orgs/(\d+)"')
        with app.test_request_context():
            session = portal_db.get_session()
            oso = get_oso()
            actor = Viewer(session, user.id)
            orgs = session.scalars(
                select(Organization).order_by(Organization.name, Organization.id)
            ).all()
            decided = [o.id for o in orgs if oso.is_allowed(actor, "READ", o)]
        assert listed == decided, user.email
        longest = max(longest, len(listed))
    assert longest > 100  # some lists span three pages


@pytest.fixture
def org_with_120_members(db: Session) -> tuple[int, str]:
    """An organization with an owner and 119 members; (its id, the owner's email)."""
    (org_id,) = bulk_organizations(db, 1)
    owner = make_user(db)
    members = [make_user(db).id for _ in range(119)]
    bulk_roles(db, [(owner.id, org_id, "OWNER")])
    bulk_roles(db, [(user_id, org_id, "MEMBER") for user_id in members])
    db.commit()
    return org_id, owner.email


def test_role_list_shows_one_page_of_members_with_the_total(
    client: FlaskClient, auth: AuthActions, org_with_120_members: tuple[int, str]
) -> None:
    org_id, email = org_with_120_members
    auth.login(email)
    first = client.get(f"/orgs/{org_id}/roles")
    assert first.status_code == 200
    assert "Showing 1–50 of 120 members" in first.text and "Page 1 of 3" in first.text
    # each email links to the member's page
    row = (
        r'<td class="col-email"><a href="/orgs/\d+/roles/\d+">([^<]+@example\.com)</a>'
    )
    emails = re.findall(row, first.text)
    assert len(emails) == 50 and emails == sorted(emails)
    last = client.get(f"/orgs/{org_id}/roles?page=3")
    assert "Showing 101–120 of 120 members" in last.text
    assert len(re.findall(row, last.text)) == 20
    assert 'name="user_email"' in last.text  # the owner's form is on every page


@pytest.mark.parametrize(("query", "status", "message"), BAD_PAGES)
def test_role_list_refuses_bad_pages_in_the_layout(
    client: FlaskClient,
    auth: AuthActions,
    org_with_120_members: tuple[int, str],
    query: str,
    status: int,
    message: str,
) -> None:
    org_id, email = org_with_120_members
    auth.login(email)
    response = client.get(f"/orgs/{org_id}/roles?{query}")
    assert response.status_code == status
    assert message in response.text


def test_templates_refuse_a_name_their_page_does_not_give(app: Flask) -> None:
    # why: with lenient Undefined a typo or a field a page forgot renders as an
    # empty string; the typed page is the template's whole context
    with app.test_request_context("/"):
        template = app.jinja_env.from_string("{{ not_a_field_of_any_page }}")
        with pytest.raises(UndefinedError):
            template.render()


def test_overview_without_a_role_row_of_ones_own_offers_no_leave(
    client: FlaskClient, auth: AuthActions, monkeypatch: pytest.MonkeyPatch
) -> None:
    # why: reading an organization need not mean holding a role row in it (a
    # role granted on a repository, later); the overview then shows no Leave
    # button and no link to one's own member page, instead of a 404
    monkeypatch.setattr("portal.views.find_membership", lambda *args, **kwargs: None)
    auth.login(demo.PAUL)
    response = client.get("/orgs/1")
    assert response.status_code == 200
    assert "Leave The Beatles" not in response.text
    assert "What your role lets you do" not in response.text
    assert "Repositories" in response.text  # the policy's answers are unchanged
