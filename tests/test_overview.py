"""The overview (/orgs/<id>): each piece shown to whoever the policy lets see its
section's own page, in HTML and JSON, and in a fixed number of statements."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from portal.authz import Viewer, authorize, get_oso, words
from portal.domain import demo
from portal.domain.models import AuditEntry
from portal.infra import db as portal_db
from portal.web.loaders import load_organization
from tests.conftest import AuthActions, organization, user_by_email
from tests.factories import (
    bulk_audit_entries,
    bulk_organizations,
    bulk_repositories,
    bulk_roles,
    bulk_users,
)
from tests.test_views import _statements

BEATLES = demo.BEATLES_ID
JSON = {"Accept": "application/json"}
PEOPLE = [demo.JOHN, demo.PAUL, demo.GEORGE]  # OWNER, MEMBER, BILLING


def _allowed(app: Flask, email: str, org_id: int = BEATLES) -> set[str]:
    """What the policy lets email do on the organization (asked of Oso itself)."""
    with app.test_request_context():
        session = portal_db.get_session()
        actor = Viewer(session, user_by_email(session, email).id)
        actions: set[str] = get_oso().authorized_actions(
            actor, organization(session, org_id)
        )
        return actions


@pytest.mark.parametrize("email", PEOPLE)
def test_overview_shows_each_piece_the_policy_allows(
    app: Flask, client: FlaskClient, auth: AuthActions, email: str
) -> None:
    allowed = _allowed(app, email)
    auth.login(email)
    page = client.get(f"/orgs/{BEATLES}").text
    # people: the counts per role in words, and the owner named
    assert ('id="people-heading"' in page) == ("LIST_ROLES" in allowed)
    assert ("<dt>Billing manager</dt><dd>1</dd>" in page) == ("LIST_ROLES" in allowed)
    owner = f'<span class="overview-owner">{demo.JOHN}</span>'
    assert (owner in page) == ("LIST_ROLES" in allowed)
    assert ('id="repos-heading"' in page) == ("LIST_REPOS" in allowed)
    assert ("64 Penny Ln Liverpool, UK" in page) == ("READ_BILLING" in allowed)
    assert ('id="changes-heading"' in page) == ("READ_AUDIT" in allowed)


def test_overview_pieces_differ_by_role(app: Flask) -> None:
    # why: the parametrized test above would pass for a policy that allowed every
    # role everything or nothing; the demo's roles must tell the pieces apart
    seen = {email: _allowed(app, email) for email in PEOPLE}
    pieces = {"LIST_ROLES", "LIST_REPOS", "READ_BILLING", "READ_AUDIT"}
    assert seen[demo.JOHN] >= pieces
    assert "LIST_ROLES" in seen[demo.PAUL] and "READ_BILLING" not in seen[demo.PAUL]
    assert seen[demo.GEORGE] & pieces == {"READ_BILLING"}


@pytest.mark.parametrize("email", PEOPLE)
def test_overview_json_has_the_same_pieces_with_codes(
    app: Flask, client: FlaskClient, auth: AuthActions, email: str
) -> None:
    allowed = _allowed(app, email)
    auth.login(email)
    body = client.get(f"/orgs/{BEATLES}", headers=JSON).json
    assert body is not None
    role = demo.ROLES[BEATLES][email]
    assert body["role"] == role
    if "LIST_ROLES" in allowed:
        assert body["people"] == {
            "total": 4,
            "by_role": {"OWNER": 1, "MEMBER": 2, "BILLING": 1},
            "owners": [demo.JOHN],
            "more_owners": 0,
        }
    else:
        assert body["people"] is None
    repositories = {"total": 1} if "LIST_REPOS" in allowed else None
    assert body["repositories"] == repositories
    billing = "64 Penny Ln Liverpool, UK" if "READ_BILLING" in allowed else None
    assert body["billing_address"] == billing
    assert body["latest_changes"] == ([] if "READ_AUDIT" in allowed else None)
    assert body["leave"]["url"] == (
        f"/orgs/{BEATLES}/roles/{demo.USERS.index(email) + 1}/delete"
    )


@pytest.mark.parametrize("email", PEOPLE)
def test_overview_says_ones_role_in_words(
    client: FlaskClient, auth: AuthActions, app: Flask, email: str
) -> None:
    code = demo.ROLES[BEATLES][email]
    with app.app_context():
        term = words().role(code)
    auth.login(email)
    page = client.get(f"/orgs/{BEATLES}").text
    badge = f'<span class="badge badge-{code.lower()}">{term.name}</span>'
    assert f"You are {badge} here" in page
    assert term.description in page
    assert ">What your role lets you do</a>" in page


def test_overview_names_a_few_owners_and_counts_the_rest(
    app: Flask, db: Session, client: FlaskClient, auth: AuthActions
) -> None:
    owners = bulk_users(db, 5, email="owner-{i}-{n}@example.com")
    bulk_roles(db, [(user_id, BEATLES, "OWNER") for user_id in owners])
    db.commit()
    auth.login(demo.PAUL)
    page = client.get(f"/orgs/{BEATLES}").text
    named = re.findall(r'<span class="overview-owner">([^<]+)</span>', page)
    assert len(named) == 3 and named == sorted(named)
    assert f'href="/orgs/{BEATLES}/roles?role=OWNER">3 more</a>' in page
    body = client.get(f"/orgs/{BEATLES}", headers=JSON).json
    assert body is not None
    assert body["people"]["owners"] == named and body["people"]["more_owners"] == 3
    assert body["people"]["by_role"]["OWNER"] == 6


def test_overview_lists_the_latest_changes_newest_first(
    db: Session, client: FlaskClient, auth: AuthActions
) -> None:
    bulk_audit_entries(db, BEATLES, 8, user_email="changed-{i}@example.com")
    db.commit()
    auth.login(demo.JOHN)
    page = client.get(f"/orgs/{BEATLES}").text
    shown = re.findall(r"changed (changed-\d)@example.com from Member", page)
    assert shown == [f"changed-{i}" for i in (7, 6, 5, 4, 3)]
    assert "The command line changed" in page
    assert f'href="/orgs/{BEATLES}/audit">See the audit log</a>' in page
    body = client.get(f"/orgs/{BEATLES}", headers=JSON).json
    assert body is not None
    entries = body["latest_changes"]
    assert len(entries) == 5 and entries[0]["user"] == "changed-7@example.com"
    assert entries[0]["old"] == "MEMBER" and entries[0]["new"] == "BILLING"


def test_overview_last_owner_is_told_why_and_where_not_shown_a_button(
    client: FlaskClient, auth: AuthActions
) -> None:
    # why: the last owner's overview had a big disabled "Leave" button; now a
    # quiet sentence with the reason and the way to make someone else an Owner
    auth.login(demo.JOHN)
    page = client.get(f"/orgs/{BEATLES}").text
    assert "disabled" not in page
    assert "You are the last Owner of The Beatles" in page
    assert f'<a href="/orgs/{BEATLES}/roles">Make someone else an Owner</a>' in page
    body = client.get(f"/orgs/{BEATLES}", headers=JSON).json
    assert body is not None and "last Owner" in body["leave"]["refused"]


def test_overview_leave_is_a_quiet_link_to_its_confirmation(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    auth.login(demo.PAUL)
    page = client.get(f"/orgs/{BEATLES}").text
    paul = user_by_email(db, demo.PAUL).id
    link = f'href="/orgs/{BEATLES}/roles/{paul}/delete">Leave The Beatles</a>'
    assert f'<a class="link-danger" {link}' in page
    assert "button" not in page.split('id="leave-heading"')[1]
    # at the bottom: after every other piece
    assert page.index('id="leave-heading"') > page.index('id="repos-heading"')
    assert client.get(f"/orgs/{BEATLES}/roles/{paul}/delete").status_code == 200


def _big_organization(db: Session, members: int, repositories: int) -> int:
    """An organization with an OWNER (Paul), members, repositories and changes."""
    (org_id,) = bulk_organizations(db, 1, name="Big Org {n}")
    users = bulk_users(db, members, email="big-{i}-{n}@example.com")
    paul = user_by_email(db, demo.PAUL).id
    bulk_roles(db, [(paul, org_id, "OWNER")])
    bulk_roles(db, [(user_id, org_id, "MEMBER") for user_id in users])
    bulk_repositories(db, org_id, repositories)
    bulk_audit_entries(db, org_id, 30)
    db.commit()
    return org_id


def test_overview_statements_do_not_grow_with_the_organization(
    app: Flask, db: Session, client: FlaskClient, auth: AuthActions
) -> None:
    # why: one statement per piece (counts grouped in one), never one per row
    big = _big_organization(db, members=300, repositories=600)
    (small,) = bulk_organizations(db, 1, name="Small Org {n}")
    bulk_roles(db, [(user_by_email(db, demo.PAUL).id, small, "OWNER")])
    db.commit()
    auth.login(demo.PAUL)
    counts = []
    for org_id in (small, big):
        client.get(f"/orgs/{org_id}")  # warm the policy's caches
        with _statements(app) as seen:
            page = client.get(f"/orgs/{org_id}").text
        counts.append(len(seen))
    assert counts[0] == counts[1], counts
    assert ">301 <span>people</span>" in page and ">600 <span>repositories" in page
    changes = page.split('id="changes-heading"')[1]
    assert changes.count("<li>") == 5


def test_overview_reads_only_the_pieces_it_shows(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    # why: a piece the viewer may not see must not even be read (BILLING: none
    # of repositories, people or changes)
    auth.login(demo.GEORGE)
    client.get(f"/orgs/{BEATLES}")
    with _statements(app) as seen:
        client.get(f"/orgs/{BEATLES}")
    read = " ".join(seen).lower()
    assert "from repository" not in read and "audit_entry" not in read
    assert "group by" not in read


def test_overview_role_counts_include_every_role(
    db: Session, client: FlaskClient, auth: AuthActions
) -> None:
    # why: a role nobody holds is counted 0, not left out
    (org_id,) = bulk_organizations(db, 1, name="Lonely Org {n}")
    bulk_roles(db, [(user_by_email(db, demo.PAUL).id, org_id, "OWNER")])
    db.commit()
    auth.login(demo.PAUL)
    body = client.get(f"/orgs/{org_id}", headers=JSON).json
    assert body is not None
    assert body["people"]["by_role"] == {"OWNER": 1, "MEMBER": 0, "BILLING": 0}


# --- the 403 page names the owners to whoever may see the people ------------------


@pytest.mark.parametrize(
    ("email", "path"),
    [(demo.PAUL, f"/orgs/{BEATLES}/billing"), (demo.GEORGE, f"/orgs/{BEATLES}/roles")],
)
def test_forbidden_page_names_the_owners_only_to_who_may_list_roles(
    app: Flask, client: FlaskClient, auth: AuthActions, email: str, path: str
) -> None:
    may_list = "LIST_ROLES" in _allowed(app, email)
    auth.login(email)
    response = client.get(path)
    assert response.status_code == 403
    named = f'to change your role: <span class="owner-name">{demo.JOHN}</span>.'
    assert (named in response.text) == may_list
    assert (demo.JOHN in response.text) == may_list  # not anywhere else either
    assert "ask an owner of The Beatles to change your role" in response.text


def test_forbidden_page_names_a_few_owners_and_links_to_the_rest(
    db: Session, client: FlaskClient, auth: AuthActions
) -> None:
    owners = bulk_users(db, 4, email="owner-{i}-{n}@example.com")
    bulk_roles(db, [(user_id, BEATLES, "OWNER") for user_id in owners])
    db.commit()
    auth.login(demo.PAUL)
    page = client.get(f"/orgs/{BEATLES}/billing").text
    assert len(re.findall(r'<span class="owner-name">', page)) == 3
    more = f'or one of <a href="/orgs/{BEATLES}/roles?role=OWNER">2 more owners</a>.'
    assert more in page


def test_forbidden_json_says_the_same_for_everyone(
    client: FlaskClient, auth: AuthActions
) -> None:
    # why: the owners are the page's words; the JSON error stays the one message
    auth.login(demo.PAUL)
    response = client.get(f"/orgs/{BEATLES}/billing", headers=JSON)
    assert response.status_code == 403 and response.json is not None
    assert demo.JOHN not in response.text


def test_overview_shows_a_change_to_a_role_the_policy_no_longer_has(
    db: Session, client: FlaskClient, auth: AuthActions
) -> None:
    # why: audit entries keep role names as written; a role renamed or dropped
    # since must not turn the overview into a 500
    (entry,) = bulk_audit_entries(db, BEATLES, 1, user_email="old-{i}@example.com")
    db.execute(
        update(AuditEntry).where(AuditEntry.id == entry).values(old_role="ADMIN")
    )
    db.commit()
    auth.login(demo.JOHN)
    response = client.get(f"/orgs/{BEATLES}")
    assert response.status_code == 200
    assert "changed old-0@example.com from ADMIN to Billing manager" in response.text


@pytest.mark.own_app  # adds a route
def test_forbidden_page_names_an_action_without_words_by_its_code(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    # why: the 403 page says a refused permission in words; one the words do not
    # know (a view's typo, a permission added before its words) must still give
    # the 403 page, not a 500
    def export(org_id: int) -> str:
        authorize("EXPORT", load_organization(org_id))
        return "exported"

    app.add_url_rule("/orgs/<id:org_id>/export", "test_export", export)
    auth.login(demo.PAUL)
    response = client.get(f"/orgs/{BEATLES}/export")
    assert response.status_code == 403
    assert "does not let you EXPORT, which this page needs" in response.text
