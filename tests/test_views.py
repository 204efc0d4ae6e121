"""The guide's walkthrough and the organization pages, over HTTP."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from portal import demo
from tests.conftest import AuthActions, RoleActions, role_of, roles_snapshot
from tests.routes import LOGIN, organization_routes, pages


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
    auth.login(demo.JOHN)
    response = roles.assign(1, demo.RINGO, "BILLING")
    assert response.status_code == 302 and response.location == "/orgs/1/roles"
    page = client.get("/orgs/1/roles").text
    assert "ringo@beatles.com is now BILLING (was MEMBER)." in page
    assert role_of(db, demo.RINGO, 1) == "BILLING"
    ringo = app.test_client()
    AuthActions(ringo).login(demo.RINGO)
    assert ringo.get("/orgs/1/billing").status_code == 200
    assert ringo.get("/orgs/1/repos").status_code == 403


def test_owner_adds_a_user_without_a_role(
    client: FlaskClient, auth: AuthActions, roles: RoleActions, db: Session
) -> None:
    auth.login(demo.JOHN)
    roles.assign(1, demo.ADMIN, "MEMBER")
    assert "admin@admin.com is now MEMBER." in client.get("/orgs/1/roles").text
    assert role_of(db, demo.ADMIN, 1) == "MEMBER"


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
        (demo.RINGO, "ADMIN", 422, "Choose one of OWNER, MEMBER, BILLING."),
        (demo.RINGO, "owner", 422, "Choose one of OWNER, MEMBER, BILLING."),
        (demo.RINGO, "", 422, "Choose one of OWNER, MEMBER, BILLING."),
        ("nobody@example.com", "MEMBER", 422, "There is no user with the email"),
        ("", "MEMBER", 422, "Enter the email of the person."),
        (demo.PAUL, "MEMBER", 409, "paul@beatles.com is already MEMBER here."),
        (demo.JOHN, "MEMBER", 409, "john@beatles.com is the last owner."),
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
    response = roles.assign(1, "nobody@example.com", "BILLING")
    assert 'value="nobody@example.com"' in response.text
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


@pytest.mark.parametrize(
    ("email", "role"),
    [(demo.JOHN, "OWNER"), (demo.PAUL, "MEMBER"), (demo.GEORGE, "BILLING")],
)
def test_overview_shows_my_role(
    client: FlaskClient, auth: AuthActions, email: str, role: str
) -> None:
    auth.login(email)
    assert (
        f'Your role here: <span class="badge badge-{role.lower()}">{role}</span>'
        in (client.get("/orgs/1").text)
    )
