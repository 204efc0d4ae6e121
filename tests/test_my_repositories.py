"""The viewer's repositories across organizations, ``GET /repos`` (issue 18):
what the policy lets them read, however it does (owner, base role, a direct
grant), with their role on each, found by name, paged, in HTML and JSON."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, update
from sqlalchemy.orm import Session

from portal.authz import get_oso
from portal.domain import demo
from portal.domain.models import Organization, RepositoryRole
from tests import factories
from tests.conftest import AuthActions, client_for, user_by_email

JSON = {"Accept": "application/json"}


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements engine runs inside the block."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _mine(client: FlaskClient, query: str = "") -> dict[str, Any]:
    """/repos in JSON."""
    response = client.get(f"/repos{query}", headers=JSON)
    assert response.status_code == 200, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def _rows(body: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(organization, repository, role) of each row of a /repos JSON answer."""
    return [(r["organization"]["name"], r["name"], r["role"]) for r in body["repos"]]


def _wings(session: Session, paul_role: str = "OWNER") -> Organization:
    """A second organization of Paul's, "Wings", with two repositories (committed)."""
    wings = factories.make_organization(session, "Wings")
    factories.make_repository(session, wings, "Band on the Run")
    factories.make_repository(session, wings, "Arrow Through Me")
    factories.make_role(session, user_by_email(session, demo.PAUL), wings, paul_role)
    session.commit()
    return wings


def test_my_repositories_span_organizations_with_the_role_on_each(
    app: Flask, db: Session
) -> None:
    _wings(db)
    body = _mine(client_for(app, "member"))
    # By organization name, then repository name.
    assert _rows(body) == [
        ("The Beatles", "Abbey Road", "READER"),
        ("Wings", "Arrow Through Me", "ADMIN"),
        ("Wings", "Band on the Run", "ADMIN"),
    ]
    first = body["repos"][0]
    assert first["organization"] == {"id": 1, "name": "The Beatles"}
    assert first["url"] == f"/orgs/1/repos/{first['id']}"
    assert body["paging"]["total"] == 3 and body["search"] == {"q": ""}


def test_my_repositories_page_in_words_links_each_repository(app: Flask) -> None:
    page = client_for(app, "owner").get("/repos").get_data(as_text=True)
    assert "<h1>Your repositories</h1>" in page
    assert '<a href="/orgs/1/repos/1">Abbey Road</a>' in page
    assert '<a href="/orgs/1">The Beatles</a>' in page
    assert 'repo-role-admin">Admin<' in page
    assert "1 repository" in page
    assert "Paperwork" not in page  # Monsters Inc.'s


def test_my_repositories_include_a_direct_grant_and_only_it(
    app: Flask, db: Session
) -> None:
    # why: with no base role, a member sees exactly what is granted to them,
    # with the granted role (and a grant stronger than the base role wins)
    wings = _wings(db, paul_role="MEMBER")
    db.execute(update(Organization).values(base_repository_role=None))
    paul = user_by_email(db, demo.PAUL)
    arrow = db.scalars(wings.repositories.select()).first()
    assert arrow is not None and arrow.name == "Arrow Through Me"
    db.add(
        RepositoryRole(
            user_id=paul.id,
            repository_id=arrow.id,
            organization_id=wings.id,
            name="WRITER",
        )
    )
    db.commit()
    assert _rows(_mine(client_for(app, "member"))) == [
        ("Wings", "Arrow Through Me", "WRITER")
    ]


def test_billing_manager_and_no_role_see_no_repositories(app: Flask) -> None:
    for actor in ("billing", "no_role"):
        client = client_for(app, actor)
        assert _mine(client)["repos"] == []
        page = client.get("/repos").get_data(as_text=True)
        assert "You cannot open any repository yet." in page
        assert 'role="search"' not in page  # nothing to search


def test_my_repositories_search_by_name(app: Flask, db: Session) -> None:
    _wings(db)
    client = client_for(app, "member")
    assert _rows(_mine(client, "?q=RUN")) == [("Wings", "Band on the Run", "ADMIN")]
    none = client.get("/repos?q=zzz").get_data(as_text=True)
    assert "None of your repositories has a name that contains ‘zzz’." in none
    bad = client.get("/repos?q=a&q=b", headers=JSON)
    assert bad.status_code == 400
    assert "Send the query parameter q once." in bad.get_json()["message"]
    assert client.get("/repos?q=%01", headers=JSON).status_code == 400


def test_my_repositories_are_paged(app: Flask, db: Session) -> None:
    wings = _wings(db)
    factories.bulk_repositories(db, wings.id, 60, name="Track {i:02d}")
    db.commit()
    client = client_for(app, "member")
    first = _mine(client)
    assert (first["paging"]["total"], first["paging"]["pages"]) == (63, 2)
    assert first["paging"]["next"] == "/repos?page=2"
    second = _mine(client, "?page=2")
    assert len(second["repos"]) == 13
    assert second["repos"][-1]["name"] == "Track 59"
    page = client.get("/repos?page=2").get_data(as_text=True)
    assert "Showing 51–63 of 63 repositories" in page
    assert client.get("/repos?page=3").status_code == 404
    assert client.get("/repos?page=x").status_code == 400


def test_my_repositories_cost_three_oso_queries_and_no_query_per_row(
    app: Flask, db: Session
) -> None:
    # why: the role on each row needs the policy; it must cost one question for
    # the page, and the rows' inputs (organization roles, grants) one SQL query
    # each, however many organizations the page spans
    paul = user_by_email(db, demo.PAUL)
    for _ in range(12):
        org = factories.make_organization(db, repositories=2)
        factories.make_role(db, paul, org, "MEMBER")
    db.commit()
    client = client_for(app, "member")
    oso = get_oso(app)
    oso.clear_caches()
    before = oso.queries
    with _statements(app.extensions["portal.engine"]) as seen:
        body = _mine(client)
    assert oso.queries - before <= 3
    assert len(body["repos"]) == 25
    assert {row["role"] for row in body["repos"]} == {"READER"}
    # Session, user, the page, the switcher, roles, grants (and slack): not 12+.
    assert len(seen) <= 9, seen
    warm = oso.queries
    _mine(client)
    assert oso.queries == warm  # warm: every answer from the caches


@pytest.mark.parametrize("actor", ["anonymous"])
def test_my_repositories_need_a_login(app: Flask, actor: str) -> None:
    client = client_for(app, actor)
    assert client.get("/repos").status_code == 302
    assert client.get("/repos", headers=JSON).status_code == 401


def test_account_menu_links_to_my_repositories(app: Flask) -> None:
    page = client_for(app, "member").get("/orgs").get_data(as_text=True)
    assert '<a href="/repos">Your repositories</a>' in page


def test_a_direct_grant_outlives_a_base_role_of_none(app: Flask, db: Session) -> None:
    # why: Monsters Inc. give members no base role; Sully holds Writer on
    # Paperwork directly, Randall nothing; in The Beatles, Ringo's direct Writer
    # beats the base Reader. (Set here: the demo seed means to, but an explicit
    # None in Organization(...) takes the column's default, READER.)
    db.execute(
        update(Organization)
        .where(Organization.id == demo.MONSTERS_ID)
        .values(base_repository_role=None)
    )
    db.commit()

    def rows(email: str) -> list[tuple[str, str, str | None]]:
        client = app.test_client()
        assert AuthActions(client).login(email).status_code == 302
        return _rows(_mine(client))

    assert rows(demo.SULLY) == [("Monsters Inc.", "Paperwork", "WRITER")]
    assert rows(demo.RANDALL) == []
    assert rows(demo.MIKE) == [("Monsters Inc.", "Paperwork", "ADMIN")]
    assert rows(demo.RINGO) == [("The Beatles", "Abbey Road", "WRITER")]
    assert rows(demo.PAUL) == [("The Beatles", "Abbey Road", "READER")]
