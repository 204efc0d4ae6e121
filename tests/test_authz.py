"""Oso calls per page: what a page costs must not grow with its rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_login import login_user
from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal.authz import authorized, get_oso
from portal.domain import demo
from portal.domain.models import Organization, User
from portal.infra import db as portal_db
from tests.conftest import AuthActions, RoleActions, client_for, user_by_email
from tests.factories import (
    bulk_organizations,
    bulk_repositories,
    bulk_roles,
    bulk_users,
)
from tests.routes import Page, pages


def _oso_queries(
    app: Flask, request: Callable[..., TestResponse], *args: Any, **kwargs: Any
) -> int:
    """The Oso queries that request(*args, **kwargs) made, on a cold cache.

    Decisions and list filters are kept across requests (portal.authz.policy),
    so a warm request makes none: the counts stated here are what a page costs
    when nothing is cached yet.
    """
    oso = get_oso(app)
    oso.clear_caches()
    before = oso.queries
    response = request(*args, **kwargs)
    assert response.status_code < 500
    return oso.queries - before


@pytest.mark.parametrize("page", pages(), ids=str)
def test_authz_oso_queries_per_page(app: Flask, page: Page) -> None:
    # why: the count is stated in the page's matrix entry (tests/routes.py), so a
    # new page cannot arrive without one
    client = client_for(app, page.actor)
    assert _oso_queries(app, client.get, page.path) == page.oso_queries


def test_authz_oso_queries_do_not_grow_with_rows(
    app: Flask, client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    bulk_repositories(db, demo.BEATLES_ID, 200, name="repo {i:03}")
    john = user_by_email(db, demo.JOHN).id
    extra = bulk_organizations(db, 50)
    bulk_roles(db, [(john, org_id, "MEMBER") for org_id in extra])
    db.commit()
    auth.login(demo.JOHN)
    # The organization, its repositories and the header's switcher (51
    # organizations: it shows 10 and links to the rest).
    assert _oso_queries(app, client.get, "/orgs/1/repos") == 3
    assert _oso_queries(app, client.get, "/orgs") == 1
    # The last page (201 rows, 50 a page) costs the same as the first: the count
    # and the page reuse the one policy-filtered select.
    assert _oso_queries(app, client.get, "/orgs/1/repos?page=5") == 3
    assert _oso_queries(app, client.get, "/orgs?page=2") == 1
    assert "Abbey Road" in client.get("/orgs/1/repos").text
    assert "repo 199" in client.get("/orgs/1/repos?page=5").text


@pytest.mark.parametrize("email", [demo.JOHN, demo.PAUL])
def test_authz_roles_page_row_controls_cost_one_query_for_the_page(
    app: Flask, client: FlaskClient, auth: AuthActions, db: Session, email: str
) -> None:
    # why: each row's role control and Remove link is a decision about that
    # row; asked one by one, 50 rows cost 50 Oso queries on a cold cache
    users = bulk_users(db, 120, email="row-{i:03}@beatles.com")
    bulk_roles(db, [(user_id, demo.BEATLES_ID, "MEMBER") for user_id in users])
    db.commit()
    auth.login(email)
    oso = get_oso(app)
    for path in ("/orgs/1/roles", "/orgs/1/roles?page=2", "/orgs/1/roles?page=3"):
        # The organization, the rows (one question), the switcher.
        assert _oso_queries(app, client.get, path) == 3
        before = oso.queries
        client.get(path)  # warm: every row's answer was kept
        assert oso.queries == before
    # Page 2: 50 rows of MEMBERs, each with its role control for the owner only.
    rows = client.get("/orgs/1/roles?page=2").text.count('class="row-role"')
    assert rows == (50 if email == demo.JOHN else 0)


def test_authz_role_post_costs_one_query(
    app: Flask, auth: AuthActions, roles: RoleActions
) -> None:
    auth.login(demo.JOHN)
    token = roles.csrf_token()  # fetching it costs a query of its own
    # An invitation (issue 19), made with the one decision about the organization.
    email = "someone-new@example.com"
    queries = _oso_queries(app, roles.assign, 1, email, "BILLING", token=token)
    assert queries == 1


def test_authz_forbidden_page_costs_one_decision_and_the_switcher(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    # why: the 403 page is in the layout, whose header lists the organizations
    # the user can READ (one list filter); the refusal itself is one decision.
    auth.login(demo.PAUL)
    assert _oso_queries(app, client.get, "/orgs/1/billing") == 2


def test_authz_authorized_is_a_select_run_by_the_session(app: Flask) -> None:
    # why: views add where/order_by to it and run it with session.scalars();
    # a legacy Query would neither compose with select() nor run that way.
    with app.test_request_context():
        session = portal_db.get_session()
        login_user(session.scalar(select(User).where(User.email == demo.PAUL)))
        statement = authorized("READ", Organization)
        assert isinstance(statement, Select)
        listed = session.scalars(statement.order_by(Organization.name)).all()
        assert [o.id for o in listed] == [demo.BEATLES_ID]
