"""Creating, renaming and deleting repositories (issue 18, part 2), through the
HTTP test client as a person or a script uses them, and the audit log's words for
every action about repositories."""

from __future__ import annotations

import html
import logging
import re
import threading
from collections.abc import Callable
from functools import partial

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, event, func, select, update
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal.authz import get_oso
from portal.domain import demo, repositories
from portal.domain.models import (
    AuditEntry,
    Organization,
    Repository,
    RepositoryRole,
    User,
)
from portal.infra import db as portal_db
from tests.conftest import AuthActions, client_for, csrf_token
from tests.database import committed_scalar, snapshot

JSON = {"Accept": "application/json"}
ABBEY_ROAD = 1  # The Beatles' repository (demo data)
PAPERWORK = 2  # Monsters Inc.'s


def _post(client: FlaskClient, url: str, **data: str) -> TestResponse:
    """POST the form data to url with the session's CSRF token."""
    return client.post(url, data={"csrf_token": csrf_token(client, "/orgs"), **data})


def _post_json(client: FlaskClient, url: str, body: object) -> TestResponse:
    """POST body as JSON to url, the CSRF token in its header."""
    token = client.get("/orgs", headers=JSON).get_json()["csrf_token"]
    return client.post(url, json=body, headers={**JSON, "X-CSRFToken": token})


def _text(response: TestResponse) -> str:
    """The page's text with its entities decoded."""
    return html.unescape(response.get_data(as_text=True))


def _repos(app: Flask, org_id: int = demo.BEATLES_ID) -> list[str]:
    """The names of org_id's repositories, committed, by id."""
    with Session(app.extensions["portal.engine"]) as session:
        rows = session.scalars(
            select(Repository.name)
            .where(Repository.organization_id == org_id)
            .order_by(Repository.id)
        )
        return list(rows)


def _audit(
    app: Flask,
) -> list[tuple[str, int | None, str | None, str | None, str | None]]:
    """(action, repository_id, repository_name, old_value, new_value) of The
    Beatles' repository entries, oldest first."""
    with Session(app.extensions["portal.engine"]) as session:
        rows = session.execute(
            select(
                AuditEntry.action,
                AuditEntry.repository_id,
                AuditEntry.repository_name,
                AuditEntry.old_value,
                AuditEntry.new_value,
            )
            .where(AuditEntry.repository_name.is_not(None))
            .order_by(AuditEntry.id)
        )
        return [(a, i, n, o, v) for a, i, n, o, v in rows]


def _user_id(session: Session, email: str) -> int:
    user_id = session.scalar(select(User.id).where(User.email == email))
    assert user_id is not None
    return user_id


def _grant(app: Flask, email: str, name: str, repo_id: int = ABBEY_ROAD) -> None:
    """Give email the repository role name on repo_id directly (committed),
    instead of any they hold there (the demo makes Ringo a Writer on Abbey Road)."""
    with Session(app.extensions["portal.engine"]) as session, session.begin():
        user_id = _user_id(session, email)
        session.execute(
            delete(RepositoryRole).where(
                RepositoryRole.user_id == user_id,
                RepositoryRole.repository_id == repo_id,
            )
        )
        session.add(
            RepositoryRole(
                user_id=_user_id(session, email),
                repository_id=repo_id,
                organization_id=demo.BEATLES_ID,
                name=name,
            )
        )


def _grants(app: Flask, repo_id: int | None = None) -> int:
    """How many repository roles are granted directly (on repo_id, or anywhere)."""
    counted = select(func.count()).select_from(RepositoryRole)
    if repo_id is not None:
        counted = counted.where(RepositoryRole.repository_id == repo_id)
    return int(committed_scalar(app.extensions["portal.engine"], counted))


# The demo's direct grants (Ringo on Abbey Road, Sully on Paperwork).
DEMO_GRANTS = sum(
    len(grants)
    for repositories in demo.REPOSITORY_ROLES.values()
    for grants in repositories.values()
)


# --- creating ----------------------------------------------------------------------


def test_create_repository_as_a_member(app: Flask) -> None:
    client = client_for(app, "member")
    page = _text(client.get("/orgs/1/repos"))
    assert 'action="/orgs/1/repos"' in page
    assert '<label for="name">Repository name</label>' in page
    response = _post(client, "/orgs/1/repos", name="  Let It Be  ")
    assert _repos(app) == ["Abbey Road", "Let It Be"]  # trimmed
    assert response.status_code == 302
    listed = _text(client.get("/orgs/1/repos"))
    assert "Created Let It Be." in listed
    entry, granted = _audit(app)
    assert entry[0] == "create_repository"
    assert entry[2:] == ("Let It Be", None, None)
    assert entry[1] is not None
    assert response.location == f"/orgs/1/repos/{entry[1]}"
    # Its creator administers it, granted directly, in the same transaction.
    assert granted[:3] == ("add_repository_role", entry[1], "Let It Be")
    assert _role_on(app, demo.PAUL, entry[1]) == "ADMIN"


def _role_on(app: Flask, email: str, repo_id: int) -> str | None:
    """The repository role granted to email on repo_id directly, as committed."""
    return committed_scalar(
        app.extensions["portal.engine"],
        select(RepositoryRole.name)
        .join(User, User.id == RepositoryRole.user_id)
        .where(User.email == email, RepositoryRole.repository_id == repo_id),
    )


def test_create_repository_where_members_get_no_base_role(app: Flask) -> None:
    # why: in Monsters Inc. members get no role on repositories; one who creates
    # a repository must still be able to open and administer it (the creator is
    # its Admin), not be sent to a page that answers 404
    client = app.test_client()
    assert AuthActions(client).login(demo.RANDALL).status_code == 302
    assert client.get("/orgs/2/repos/2").status_code == 404  # Paperwork: not his
    response = _post(client, "/orgs/2/repos", name="Scare Floor")
    assert response.status_code == 302
    page = client.get(response.location)
    assert page.status_code == 200
    assert "Admin" in _text(page) and "granted on this repository directly" in _text(
        page
    )


def test_create_repository_in_json(app: Flask) -> None:
    client = client_for(app, "owner")
    response = _post_json(client, "/orgs/1/repos", {"name": "Revolver"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    entry, _granted = _audit(app)
    assert body["location"] == f"/orgs/1/repos/{entry[1]}"
    assert body["message"] == "Created Revolver."


def test_create_repository_may_reuse_another_organizations_name(app: Flask) -> None:
    # why: names are unique per organization, not across them
    client = client_for(app, "owner")
    assert _post(client, "/orgs/1/repos", name="paperwork").status_code == 302
    assert _repos(app) == ["Abbey Road", "paperwork"]


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("", 422, "Enter a name for the repository."),
        ("   ", 422, "Enter a name for the repository."),
        ("x" * 101, 422, "Use at most 100 characters for the name (101 given)."),
        ("x" * 10_000, 422, "Use at most 100 characters for the name (10,000 given)."),
        ("tab\tname", 422, "Remove the control characters from the name."),
        ("nul\x00name", 422, "Remove the control characters from the name."),
        ("Abbey Road", 409, "There is already a repository named 'Abbey Road'"),
        (" ABBEY road ", 409, "There is already a repository named 'ABBEY road'"),
    ],
    ids=["empty", "blank", "101", "10000", "control", "nul", "taken", "case"],
)
def test_create_repository_refuses_a_bad_name(
    app: Flask, name: str, status: int, message: str
) -> None:
    client = client_for(app, "member")
    before = snapshot(app.extensions["portal.engine"])
    response = _post(client, "/orgs/1/repos", name=name)
    assert response.status_code == status
    page = _text(response)
    assert message in page
    # The list page again, the error at the field, the list still shown.
    assert 'class="field field-invalid"' in page
    assert ">Abbey Road</a>" in page
    as_json = _post_json(client, "/orgs/1/repos", {"name": name})
    assert as_json.status_code == status
    assert message in as_json.get_json()["errors"]["name"][0]
    assert snapshot(app.extensions["portal.engine"]) == before


def test_create_repository_refuses_a_missing_or_non_string_name(app: Flask) -> None:
    client = client_for(app, "owner")
    before = snapshot(app.extensions["portal.engine"])
    assert _post_json(client, "/orgs/1/repos", {}).status_code == 422
    assert _post_json(client, "/orgs/1/repos", {"name": 5}).status_code == 422
    assert _post_json(client, "/orgs/1/repos", {"nom": "x"}).status_code == 422
    assert snapshot(app.extensions["portal.engine"]) == before


@pytest.mark.parametrize(
    ("actor", "org_id", "status"),
    [
        ("billing", 1, 403),
        ("no_role", 1, 404),
        ("other_owner", 1, 404),
        ("owner", 2, 404),
    ],
)
def test_create_repository_refused(
    app: Flask, actor: str, org_id: int, status: int
) -> None:
    client = client_for(app, actor)
    before = snapshot(app.extensions["portal.engine"])
    assert _post(client, f"/orgs/{org_id}/repos", name="Help!").status_code == status
    as_json = _post_json(client, f"/orgs/{org_id}/repos", {"name": "Help!"})
    assert as_json.status_code == status
    assert snapshot(app.extensions["portal.engine"]) == before


def test_create_repository_race_is_a_409_not_a_500(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # why: two creations of one name at once both pass the check; the second's
    # insert meets the unique (organization_id, name_key), which must come back as
    # the same refusal
    monkeypatch.setattr(repositories, "name_holder", lambda *_: None)
    client = client_for(app, "owner")
    before = snapshot(app.extensions["portal.engine"])
    response = _post(client, "/orgs/1/repos", name="abbey ROAD")
    assert response.status_code == 409
    assert "There is already a repository named" in _text(response)
    assert snapshot(app.extensions["portal.engine"]) == before


def test_repository_list_links_each_name_and_hides_the_form_from_no_one_else(
    app: Flask,
) -> None:
    page = _text(client_for(app, "owner").get("/orgs/1/repos"))
    assert '<a href="/orgs/1/repos/1">Abbey Road</a>' in page
    assert "Create repository" in page
    # A member of an organization whose base role is none sees no repository,
    # but may still create one.
    with Session(app.extensions["portal.engine"]) as session, session.begin():
        abbey_road = session.get(Repository, ABBEY_ROAD)
        assert abbey_road is not None
        abbey_road.organization.base_repository_role = None
    page = _text(client_for(app, "member").get("/orgs/1/repos"))
    assert "Abbey Road" not in page
    assert "Create repository" in page


# --- renaming ----------------------------------------------------------------------


def test_rename_repository(app: Flask) -> None:
    client = client_for(app, "owner")
    page = _text(client.get("/orgs/1/repos/1/settings"))
    assert 'name="current_name" value="Abbey Road"' in page
    assert "Delete this repository" in page
    assert 'href="/orgs/1/repos/1/settings"' in page  # the Settings tab
    response = _post(
        client,
        "/orgs/1/repos/1/settings",
        name=" Abbey Road Studios ",
        current_name="Abbey Road",
    )
    assert response.status_code == 302
    assert response.location == "/orgs/1/repos/1/settings"
    assert "Renamed Abbey Road to Abbey Road Studios." in _text(
        client.get(response.location)
    )
    assert _repos(app) == ["Abbey Road Studios"]
    assert _audit(app) == [
        (
            "rename_repository",
            1,
            "Abbey Road Studios",
            "Abbey Road",
            "Abbey Road Studios",
        )
    ]


def test_rename_repository_in_json(app: Flask) -> None:
    client = client_for(app, "owner")
    shown = client.get("/orgs/1/repos/1/settings", headers=JSON).get_json()
    assert shown["repository"] == {"id": 1, "name": "Abbey Road"}
    assert shown["may_rename"] is True and shown["may_delete"] is True
    body = {"name": "Abbey Road Studios", **shown["form"]}
    response = _post_json(client, "/orgs/1/repos/1/settings", body)
    assert response.status_code == 200
    assert response.get_json()["location"] == "/orgs/1/repos/1/settings"
    # Without current_name: renamed as it stands.
    again = _post_json(client, "/orgs/1/repos/1/settings", {"name": "EMI Studios"})
    assert again.status_code == 200
    assert _repos(app) == ["EMI Studios"]


def test_rename_may_change_only_the_case(app: Flask) -> None:
    client = client_for(app, "owner")
    response = _post(client, "/orgs/1/repos/1/settings", name="ABBEY ROAD")
    assert response.status_code == 302
    assert _repos(app) == ["ABBEY ROAD"]


def test_a_member_may_not_rename_unless_admin_on_the_repository(app: Flask) -> None:
    paul = client_for(app, "member")
    before = snapshot(app.extensions["portal.engine"])
    assert paul.get("/orgs/1/repos/1/settings").status_code == 403
    assert _post(paul, "/orgs/1/repos/1/settings", name="Mine").status_code == 403
    assert paul.get("/orgs/1/repos/1/delete").status_code == 403
    refused = _post(paul, "/orgs/1/repos/1/delete", confirm_name="Abbey Road")
    assert refused.status_code == 403
    assert snapshot(app.extensions["portal.engine"]) == before
    _grant(app, demo.PAUL, "WRITER")  # a Writer may not either
    assert paul.get("/orgs/1/repos/1/settings").status_code == 403
    with Session(app.extensions["portal.engine"]) as session, session.begin():
        session.execute(update(RepositoryRole).values(name="ADMIN"))
    assert paul.get("/orgs/1/repos/1/settings").status_code == 200
    assert _post(paul, "/orgs/1/repos/1/settings", name="Mine").status_code == 302
    assert _repos(app) == ["Mine"]


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("", 422, "Enter a name for the repository."),
        ("x" * 10_000, 422, "Use at most 100 characters for the name (10,000 given)."),
        ("a\x1bb", 422, "Remove the control characters from the name."),
        ("Abbey Road", 422, "The repository is already named 'Abbey Road'."),
        ("let it BE", 409, "There is already a repository named 'let it BE'"),
    ],
    ids=["empty", "10000", "control", "same", "taken"],
)
def test_rename_refuses_a_bad_name(
    app: Flask, name: str, status: int, message: str
) -> None:
    client = client_for(app, "owner")
    assert _post(client, "/orgs/1/repos", name="Let It Be").status_code == 302
    before = snapshot(app.extensions["portal.engine"])
    response = _post(client, "/orgs/1/repos/1/settings", name=name)
    assert response.status_code == status
    assert message in _text(response)
    as_json = _post_json(client, "/orgs/1/repos/1/settings", {"name": name})
    assert as_json.status_code == status
    assert message in as_json.get_json()["errors"]["name"][0]
    assert snapshot(app.extensions["portal.engine"]) == before


def test_a_stale_rename_is_refused_and_shows_the_name_now(app: Flask) -> None:
    # why: two admins rename at once: the second, rendered before the first
    # rename, would silently undo it
    client = client_for(app, "owner")
    assert _post(client, "/orgs/1/repos/1/settings", name="EMI").status_code == 302
    before = snapshot(app.extensions["portal.engine"])
    stale = _post(
        client, "/orgs/1/repos/1/settings", name="Apple", current_name="Abbey Road"
    )
    assert stale.status_code == 409
    page = _text(stale)
    assert "The repository was renamed to EMI while you were looking." in page
    assert 'name="current_name" value="EMI"' in page  # sending again works
    as_json = _post_json(
        client,
        "/orgs/1/repos/1/settings",
        {"name": "Apple", "current_name": "Abbey Road"},
    )
    assert as_json.status_code == 409
    assert snapshot(app.extensions["portal.engine"]) == before
    again = _post(client, "/orgs/1/repos/1/settings", name="Apple", current_name="EMI")
    assert again.status_code == 302


@pytest.mark.parametrize(
    "path",
    [
        "/orgs/1/repos/2/settings",  # Monsters Inc.'s repository in The Beatles' URL
        "/orgs/2/repos/1/settings",
        "/orgs/1/repos/999/settings",
        "/orgs/1/repos/2/delete",
        "/orgs/2/repos/1/delete",
        "/orgs/1/repos/999/delete",
    ],
)
def test_another_organizations_repository_is_not_found(app: Flask, path: str) -> None:
    for actor in ("owner", "other_owner"):
        client = client_for(app, actor)
        before = snapshot(app.extensions["portal.engine"])
        assert client.get(path).status_code == 404
        name = "Paperwork" if "/repos/2/" in path else "Abbey Road"
        field = "confirm_name" if path.endswith("delete") else "name"
        assert _post(client, path, **{field: name}).status_code == 404
        assert snapshot(app.extensions["portal.engine"]) == before


# --- deleting ----------------------------------------------------------------------


def test_delete_page_says_what_goes(app: Flask) -> None:
    _grant(app, demo.RINGO, "WRITER")
    _grant(app, demo.PAUL, "READER")
    page = _text(client_for(app, "owner").get("/orgs/1/repos/1/delete"))
    assert "Delete Abbey Road?" in page
    assert "2 roles granted on it directly" in page
    assert "owners and members" in page
    assert "Type Abbey Road to confirm" in page
    shown = client_for(app, "owner").get("/orgs/1/repos/1/delete", headers=JSON)
    assert shown.get_json()["deletes"] == {"direct_grants": 2}
    assert shown.get_json()["confirm"] == {
        "url": "/orgs/1/repos/1/delete",
        "body": {"confirm_name": "Abbey Road"},
    }


@pytest.mark.parametrize("typed", ["", "abbey road", "Abbey", "Paperwork"])
def test_delete_refuses_the_wrong_typed_name(app: Flask, typed: str) -> None:
    client = client_for(app, "owner")
    before = snapshot(app.extensions["portal.engine"])
    response = _post(client, "/orgs/1/repos/1/delete", confirm_name=typed)
    assert response.status_code == 422
    assert "That is not the repository's name." in _text(response)
    as_json = _post_json(client, "/orgs/1/repos/1/delete", {"confirm_name": typed})
    assert as_json.status_code == 422
    assert snapshot(app.extensions["portal.engine"]) == before


def test_delete_takes_the_grants_keeps_the_audit_and_logs_it(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    _grant(app, demo.RINGO, "WRITER")
    client = client_for(app, "owner")
    with caplog.at_level(logging.INFO, logger="portal"):
        response = _post(client, "/orgs/1/repos/1/delete", confirm_name=" Abbey Road ")
    assert response.status_code == 302
    assert response.location == "/orgs/1/repos"
    listed = _text(client.get("/orgs/1/repos"))
    assert "Deleted Abbey Road." in listed
    assert "has no repository that you can open" in listed
    assert _repos(app) == []
    assert _grants(app, ABBEY_ROAD) == 0  # the database's cascade
    # The entry keeps the name; its repository_id went with the repository.
    assert _audit(app) == [("delete_repository", None, "Abbey Road", None, None)]
    (line,) = [r for r in caplog.records if "repository deleted" in r.message]
    assert line.name == "portal" and line.levelno == logging.WARNING
    assert line.getMessage() == (
        "repository deleted: org=1 repo=1 name='Abbey Road' actor=1 direct_grants=1"
    )
    # Deleting what is already gone: 404, for the page and the form.
    assert client.get("/orgs/1/repos/1/delete").status_code == 404
    gone = _post(client, "/orgs/1/repos/1/delete", confirm_name="Abbey Road")
    assert gone.status_code == 404


def test_delete_in_json(app: Flask) -> None:
    client = client_for(app, "other_owner")
    body = {"confirm_name": "Paperwork"}
    response = _post_json(client, "/orgs/2/repos/2/delete", body)
    assert response.status_code == 200
    assert response.get_json() == {
        "location": "/orgs/2/repos",
        "message": "Deleted Paperwork.",
        "csrf_token": response.get_json()["csrf_token"],
    }
    assert _repos(app, demo.MONSTERS_ID) == []
    assert _post_json(client, "/orgs/2/repos/2/delete", body).status_code == 404


def test_delete_of_a_repository_deleted_meanwhile_is_a_404(app: Flask) -> None:
    # why: the domain's own guard, for a caller that loaded it before the lock
    with app.test_request_context():
        session = portal_db.get_session()
        repository = session.get(Repository, ABBEY_ROAD)
        assert repository is not None
        with portal_db.transaction(session):
            repositories.delete_repository(session, repository, "Abbey Road", None)
        with pytest.raises(repositories.RepositoryGone) as error:
            repositories.delete_repository(session, repository, "Abbey Road", None)
        assert error.value.status == 404


# --- races (run on PostgreSQL too: PORTAL_TEST_DATABASES=postgresql) -------------


def _at_once(*requests: Callable[[], TestResponse]) -> list[int]:
    """Run the requests in threads released together; their statuses, in order."""
    barrier = threading.Barrier(len(requests))
    statuses: list[int] = [0] * len(requests)

    def run(index: int) -> None:
        barrier.wait()
        statuses[index] = requests[index]().status_code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def _poster(client: FlaskClient, url: str, **data: str) -> Callable[[], TestResponse]:
    """A POST of data to url, its CSRF token fetched now."""
    token = csrf_token(client, "/orgs")
    return partial(client.post, url, data={"csrf_token": token, **data})


def test_race_two_creations_of_one_name(app: Flask) -> None:
    # why: both pass the check before the insert; one must win and the other get
    # the same 409 as a duplicate, never a 500
    owner, member = client_for(app, "owner"), client_for(app, "member")
    for round_ in range(5):
        name = f"Race {round_}"
        statuses = _at_once(
            _poster(owner, "/orgs/1/repos", name=name),
            _poster(member, "/orgs/1/repos", name=name.upper()),
        )
        assert sorted(statuses) == [302, 409], statuses
    kept = [name.casefold() for name in _repos(app)]
    assert kept == ["abbey road"] + [f"race {round_}" for round_ in range(5)]


def test_race_deleting_while_renaming(app: Flask) -> None:
    # why: the rename waits for the lock the deletion holds; it must then find the
    # repository gone (404), never write to a deleted row or answer 500
    owners = [client_for(app, "owner"), client_for(app, "owner")]
    for round_ in range(3):
        made = _post(owners[0], "/orgs/1/repos", name=f"Doomed {round_}")
        url = made.location
        statuses = _at_once(
            _poster(owners[0], f"{url}/delete", confirm_name=f"Doomed {round_}"),
            _poster(owners[1], f"{url}/settings", name=f"Saved {round_}"),
        )
        assert statuses[0] in (302, 422), statuses  # 422: renamed first
        assert statuses[1] in (302, 404), statuses
        assert 500 not in statuses
    # The demo's grants, and the creator's grant on each repository that was
    # renamed before the deletion could see its name (the deletion then refused).
    assert _grants(app) == DEMO_GRANTS + len(
        [n for n in _repos(app) if n.startswith("Saved")]
    )
    assert all(n.startswith(("Abbey", "Saved")) for n in _repos(app))


# --- the audit log's words ---------------------------------------------------------


def _entries(app: Flask) -> None:
    """One entry of each repository action, in The Beatles (committed), about
    Abbey Road (still there) and Let It Be (deleted)."""
    client = client_for(app, "owner")
    assert _post(client, "/orgs/1/repos", name="Let It Be").status_code == 302
    assert _post(client, "/orgs/1/repos/1/settings", name="EMI").status_code == 302
    (let_it_be,) = [e[1] for e in _audit(app) if e[0] == "create_repository"]
    gone = f"/orgs/1/repos/{let_it_be}/delete"
    assert _post(client, gone, confirm_name="Let It Be").status_code == 302
    with Session(app.extensions["portal.engine"]) as session, session.begin():
        ringo = _user_id(session, demo.RINGO)

        def entry(action: str, **values: object) -> AuditEntry:
            return AuditEntry(
                organization_id=demo.BEATLES_ID,
                action=action,
                actor_id=1,
                actor_email=demo.JOHN,
                **values,
            )

        on_emi = {"repository_id": ABBEY_ROAD, "repository_name": "EMI"}
        on_ringo = {"user_id": ringo, "user_email": demo.RINGO}
        session.add_all(
            [
                entry("base_repository_role", old_value="READER", new_value=None),
                entry("base_repository_role", old_value=None, new_value="WRITER"),
                entry("add_repository_role", new_role="WRITER", **on_emi, **on_ringo),
                entry(
                    "change_repository_role",
                    old_role="WRITER",
                    new_role="ADMIN",
                    **on_emi,
                    **on_ringo,
                ),
                entry("remove_repository_role", old_role="ADMIN", **on_emi, **on_ringo),
            ]
        )


SAID = [
    "changed the base repository role from Reader to No access",
    "changed the base repository role from No access to Writer",
    "gave ringo@beatles.com Writer on EMI",
    "changed ringo@beatles.com from Writer to Admin on EMI",
    "took Admin on EMI away from ringo@beatles.com",
    "created the repository Let It Be",
    "renamed the repository Abbey Road to EMI",
    "deleted the repository Let It Be",
]


def _plain(page: str) -> str:
    """page without its tags, its spaces squeezed."""
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def test_audit_log_says_every_repository_action_in_words(app: Flask) -> None:
    _entries(app)
    response = client_for(app, "owner").get("/orgs/1/audit")
    page = _plain(_text(response))
    for words in SAID:
        assert words in page, words
    assert "None" not in page
    # The repository that is still there is a link; the deleted one is not.
    raw = response.get_data(as_text=True)
    assert (
        'gave ringo@beatles.com <span class="badge badge-writer">Writer</span>'
        ' on <a href="/orgs/1/repos/1">EMI</a>' in raw
    )
    assert "deleted the repository Let It Be" in raw
    assert ">Let It Be</a>" not in raw


def test_overview_says_the_latest_repository_changes_in_words(app: Flask) -> None:
    _entries(app)
    page = _plain(_text(client_for(app, "owner").get("/orgs/1")))
    assert "john@beatles.com took Admin on EMI away from ringo@beatles.com" in page
    assert (
        "john@beatles.com changed the base repository role from Reader to No access"
        in page
    )
    assert "None" not in page


def test_audit_json_names_the_repository(app: Flask) -> None:
    _entries(app)
    got = client_for(app, "owner").get("/orgs/1/audit", headers=JSON).get_json()
    by_action: dict[str, dict[str, object]] = {}
    for entry in got["entries"]:
        by_action.setdefault(entry["action"], entry)
    assert by_action["add_repository_role"]["repository"] == {"id": 1, "name": "EMI"}
    assert by_action["delete_repository"]["repository"] == {
        "id": None,
        "name": "Let It Be",
    }
    assert by_action["base_repository_role"]["repository"] is None
    assert by_action["base_repository_role"]["old_value"] is None  # newest first


def test_audit_page_decides_its_repositories_at_once(app: Flask) -> None:
    # why: a link per repository asks whether the viewer may READ it; asked row by
    # row, a page of 50 entries would cost 50 Oso queries
    _entries(app)
    with Session(app.extensions["portal.engine"]) as session, session.begin():
        for n in range(5):  # more repositories named by entries
            repository = Repository(name=f"Take {n}", organization_id=demo.BEATLES_ID)
            session.add(repository)
            session.flush()
            session.add(
                AuditEntry(
                    organization_id=demo.BEATLES_ID,
                    action="create_repository",
                    repository_id=repository.id,
                    repository_name=repository.name,
                )
            )
    client = client_for(app, "owner")
    oso = get_oso(app)
    oso.clear_caches()
    before = oso.queries
    page = client.get("/orgs/1/audit").get_data(as_text=True)
    # The organization, the entries' repositories together, the switcher.
    assert oso.queries - before == 3
    assert page.count('href="/orgs/1/repos/') >= 6


@pytest.mark.parametrize("shown", ["x" * 10_000, "Abbey\x00Road", "Abbey\nRoad"])
def test_a_rename_form_with_junk_for_the_name_it_showed_is_out_of_date(
    app: Flask, shown: str
) -> None:
    # why: no page draws such a name: it is a form out of date (422), not a
    # rename made meanwhile (409, which names the name now)
    client = client_for(app, "owner")
    before = snapshot(app.extensions["portal.engine"])
    sent = _post(client, "/orgs/1/repos/1/settings", name="EMI", current_name=shown)
    assert sent.status_code == 422
    assert "This form is out of date." in _text(sent)
    assert snapshot(app.extensions["portal.engine"]) == before


@pytest.mark.parametrize(
    ("url", "data", "gone"),
    [
        ("/orgs/1/repos/1/settings", {"name": "Abbey Road"}, Repository),  # same
        ("/orgs/1/repos/1/delete", {"confirm_name": "Abbey"}, Repository),  # wrong
        ("/orgs/1/repos", {"name": "abbey road"}, Organization),  # taken
        ("/orgs/1/settings", {"name": "The Beatles"}, Organization),  # same
        ("/orgs/1/delete", {"confirm_name": "Beatles"}, Organization),  # wrong
    ],
)
def test_a_refusal_finds_the_row_deleted_meanwhile(
    app: Flask, url: str, data: dict[str, str], gone: type[Repository | Organization]
) -> None:
    # why: a refused change rolls back and releases the lock; the page is then
    # drawn from the repository as it is, which another request may have deleted
    # in that moment: 404, not a 500 from refreshing a row that is gone
    client = client_for(app, "owner")
    token = csrf_token(client, "/orgs")
    engine = app.extensions["portal.engine"]
    fired: list[bool] = []

    def someone_deletes(session: Session) -> None:
        if fired:
            return
        fired.append(True)
        with engine.begin() as connection:
            connection.execute(delete(gone).where(gone.id == 1))

    event.listen(Session, "after_rollback", someone_deletes)
    try:
        sent = client.post(url, data={"csrf_token": token, **data})
    finally:
        event.remove(Session, "after_rollback", someone_deletes)
    assert fired
    assert sent.status_code == 404
