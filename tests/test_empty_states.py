"""Every list that can be empty says why it is empty and what to do, over HTTP."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal.domain import demo
from tests.conftest import AuthActions, user_by_email
from tests.factories import make_organization, make_role


def _empty_state(page: str) -> str:
    """The text of the page's empty state (class="empty"), tags and spaces
    collapsed; fails if there is none."""
    match = re.search(r'<(p|div) class="empty">(.*?)</\1>', page, re.DOTALL)
    assert match is not None, "no empty state"
    return " ".join(re.sub(r"<[^>]+>", "", match[2]).split())


def test_empty_organization_list_says_whom_to_ask(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.ADMIN)
    text = _empty_state(client.get("/orgs").text)
    assert "You do not belong to any organization yet." in text
    assert "Ask an owner of an organization to give you a role there." in text


def test_empty_repository_list_says_when_repositories_appear(
    client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    organization = make_organization(db, repositories=0)
    make_role(db, user_by_email(db, demo.PAUL), organization, "MEMBER")
    db.commit()
    auth.login(demo.PAUL)
    page = client.get(f"/orgs/{organization.id}/repos").text
    text = _empty_state(page)
    assert f"{organization.name} has no repository that you can open." in text
    assert "Repositories appear here, by name, as soon as one is created in" in text
    assert "<table" not in page


def test_role_search_without_a_match_offers_to_clear_it(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.JOHN)
    page = client.get("/orgs/1/roles?q=nobody-here").text
    assert "No member's email contains 'nobody-here'." in _empty_state(page)
    assert '<a href="/orgs/1/roles">Clear the search</a>' in page


def test_role_filter_without_a_match_offers_every_role(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.MIKE)  # Monsters Inc. has nobody with BILLING
    page = client.get(f"/orgs/{demo.MONSTERS_ID}/roles?role=BILLING").text
    assert "No member has the role Billing manager." in _empty_state(page)
    assert f'<a href="/orgs/{demo.MONSTERS_ID}/roles">Show all roles</a>' in page


def test_empty_audit_log_says_what_will_appear_and_where_roles_change(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.JOHN)
    page = client.get("/orgs/1/audit").text
    text = _empty_state(page)
    assert "No role has changed in The Beatles since the audit log began." in text
    assert "will be listed here; roles are managed on the People page." in text
    assert '<a href="/orgs/1/roles">People page</a>' in page
