"""Oso calls per page: what a page costs must not grow with its rows."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_login import login_user
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from portal import db as portal_db
from portal import demo
from portal.authz import authorized
from portal.models import Organization, OrganizationRole, Repository, User
from tests.conftest import AuthActions, csrf_token


def _oso_queries(app: Flask, client: FlaskClient, path: str, **kw) -> int:
    oso = app.extensions["portal.oso"]
    before = oso.queries
    response = client.open(path, **kw)
    assert response.status_code < 500
    return oso.queries - before


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/orgs", 1),
        ("/orgs/1", 1),
        ("/orgs/1/repos", 2),
        ("/orgs/1/billing", 1),
        ("/orgs/1/roles", 1),
    ],
)
def test_authz_oso_queries_per_page(
    app: Flask, client: FlaskClient, auth: AuthActions, path: str, expected: int
) -> None:
    auth.login(demo.JOHN)
    assert _oso_queries(app, client, path) == expected


def test_authz_oso_queries_do_not_grow_with_rows(
    app: Flask, client: FlaskClient, auth: AuthActions, db: Session
) -> None:
    org = db.get(Organization, 1)
    org.repositories.add_all(Repository(name=f"repo {i:03}") for i in range(200))
    for i in range(50):
        extra = Organization(name=f"Extra {i}")
        db.add(extra)
        db.add(OrganizationRole(organization=extra, user_id=1, name="MEMBER"))
    db.commit()
    auth.login(demo.JOHN)
    assert _oso_queries(app, client, "/orgs/1/repos") == 2
    assert _oso_queries(app, client, "/orgs") == 1
    page = client.get("/orgs/1/repos").text
    assert "repo 199" in page and "Abbey Road" in page


def test_authz_role_post_costs_one_query(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.JOHN)
    data = {
        "csrf_token": csrf_token(client, "/orgs"),
        "user_email": demo.RINGO,
        "name": "BILLING",
    }
    assert _oso_queries(app, client, "/orgs/1/roles", method="POST", data=data) == 1


def test_authz_forbidden_page_costs_one_query(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.PAUL)
    assert _oso_queries(app, client, "/orgs/1/billing") == 1


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
