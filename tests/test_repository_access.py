"""The repository page (who has access and why) and repository role management.

Expectations are written out here, independently of the policy; the changed-
policy test proves the reasons are read from the loaded policy.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.authz import get_oso, relearn_repository_access, repository_access
from portal.domain import demo, repository_roles
from portal.domain.models import (
    AuditEntry,
    Organization,
    OrganizationRole,
    Repository,
    RepositoryRole,
    User,
)
from tests.conftest import AuthActions, client_for, csrf_token, user_by_email

POLICY = (Path(__file__).resolve().parents[1] / "portal" / "policy.polar").read_text()
ABBEY_ROAD = 1  # The Beatles' repository (demo data)
PAPERWORK = 2  # Monsters Inc.'s
PAGE = f"/orgs/{demo.BEATLES_ID}/repos/{ABBEY_ROAD}"
JSON = {"Accept": "application/json"}


def _grant(db: Session, email: str, name: str, repo_id: int = ABBEY_ROAD) -> None:
    """Grant email the role name on the repository directly (test setup; the
    demo's own grant, if any, replaced)."""
    user = user_by_email(db, email)
    repository = db.get(Repository, repo_id)
    assert repository is not None
    db.execute(
        delete(RepositoryRole).where(
            RepositoryRole.user_id == user.id, RepositoryRole.repository_id == repo_id
        )
    )
    db.add(
        RepositoryRole(
            user_id=user.id,
            repository_id=repo_id,
            organization_id=repository.organization_id,
            name=name,
        )
    )
    db.commit()


def _direct(db: Session, email: str) -> str | None:
    """email's direct role on Abbey Road, as the database holds it now."""
    db.rollback()  # a new transaction: what the requests committed since
    user = user_by_email(db, email)
    return db.scalar(
        select(RepositoryRole.name).where(
            RepositoryRole.user_id == user.id,
            RepositoryRole.repository_id == ABBEY_ROAD,
        )
    )


def _grants(db: Session) -> list[tuple[int, int, str]]:
    """Every direct grant now: (user id, repository id, role)."""
    db.rollback()
    rows = db.execute(
        select(
            RepositoryRole.user_id, RepositoryRole.repository_id, RepositoryRole.name
        )
    )
    return sorted((u, r, n) for u, r, n in rows)


def _page_json(client: FlaskClient, path: str = PAGE) -> dict[str, Any]:
    response = client.get(path, headers=JSON)
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def _person(body: dict[str, Any], email: str) -> dict[str, Any]:
    found = [p for p in body["people"] if p["user"]["email"] == email]
    assert len(found) == 1, (email, body["people"])
    return found[0]


def _post(
    client: FlaskClient, path: str, data: dict[str, str], json: bool = False
) -> Any:
    token = csrf_token(client, PAGE)
    if json:
        return client.post(path, json=data, headers={**JSON, "X-CSRFToken": token})
    return client.post(path, data={**data, "csrf_token": token})


# --- the page ---------------------------------------------------------------------


def test_owner_sees_admin_through_ownership(app: Flask) -> None:
    page = client_for(app, "owner").get(PAGE).get_data(as_text=True)
    assert "Abbey Road" in page and "The Beatles" in page
    assert "Admin: every Owner of The Beatles is an Admin on its repositories." in page
    assert "Give a role" in page  # MANAGE_ROLES
    assert f'href="/orgs/{demo.BEATLES_ID}/repos"' in page  # the breadcrumb
    assert "What each repository role can do" in page
    assert "<code>MANAGE_ROLES</code>" in page


def test_member_sees_reader_through_the_base_role(app: Flask) -> None:
    page = client_for(app, "member").get(PAGE).get_data(as_text=True)
    assert "Reader: the base role of The Beatles, which every Member gets." in page
    assert "Give a role" not in page
    assert "/repos/1/roles" not in page  # no management form or row control
    body = _page_json(client_for(app, "member"))
    assert body["my_role"] == "READER"
    assert body["my_permissions"] == ["READ", "LIST_ROLES"]
    assert body["may_manage_roles"] is False


def test_json_lists_people_with_their_reasons(app: Flask) -> None:
    body = _page_json(client_for(app, "owner"))
    assert body["repository"] == {"id": ABBEY_ROAD, "name": "Abbey Road"}
    assert body["organization"]["name"] == "The Beatles"
    assert body["my_role"] == "ADMIN"
    assert body["my_permissions"] == [
        "READ",
        "PUSH",
        "LIST_ROLES",
        "UPDATE",
        "DELETE",
        "MANAGE_ROLES",
    ]
    emails = [p["user"]["email"] for p in body["people"]]
    # George is a billing manager: no role on repositories, not listed.
    assert emails == sorted([demo.JOHN, demo.PAUL, demo.RINGO])
    john = _person(body, demo.JOHN)
    assert john["org_role"] == "OWNER" and john["role"] == "ADMIN"
    assert john["direct_role"] is None
    assert john["reasons"][0] == (
        "Admin: every Owner of The Beatles is an Admin on its repositories"
    )
    assert john["reasons"][1] == (
        "Reader: the base role of The Beatles, which every Member gets"
        " (an Owner is also a Member)"
    )
    paul = _person(body, demo.PAUL)
    assert paul["role"] == "READER"
    assert paul["reasons"] == [
        "Reader: the base role of The Beatles, which every Member gets"
    ]


@pytest.mark.parametrize("role", ["WRITER", "ADMIN"])
def test_a_direct_grantee_sees_granted_directly(
    app: Flask, db: Session, role: str
) -> None:
    _grant(db, demo.RINGO, role)
    client = app.test_client()
    AuthActions(client).login(demo.RINGO)
    body = _page_json(client)
    assert body["my_role"] == role
    name = {"WRITER": "Writer", "ADMIN": "Admin"}[role]
    assert f"{name}: granted on this repository directly" in body["my_reasons"]
    assert body["may_manage_roles"] is (role == "ADMIN")
    page = client.get(PAGE).get_data(as_text=True)
    assert f"{name}: granted on this repository directly." in page


def test_billing_without_a_grant_sees_nothing_but_with_one_does(
    app: Flask, db: Session
) -> None:
    billing = client_for(app, "billing")
    assert billing.get(PAGE).status_code == 404
    _grant(db, demo.GEORGE, "READER")
    body = _page_json(billing)
    assert body["my_role"] == "READER"
    george = _person(_page_json(client_for(app, "owner")), demo.GEORGE)
    assert george["org_role"] == "BILLING" and george["direct_role"] == "READER"


def test_a_billing_grantee_sees_their_own_access_and_not_the_people(
    app: Flask, db: Session
) -> None:
    """A billing manager may not list the organization's people (403 on its
    roles page): a role on a repository shows them their own access only."""
    _grant(db, demo.GEORGE, "READER")
    billing = client_for(app, "billing")
    assert billing.get(f"/orgs/{demo.BEATLES_ID}/roles").status_code == 403
    page = billing.get(PAGE).get_data(as_text=True)
    assert "Your access" in page
    assert "Reader: granted on this repository directly." in page
    assert "People with access" not in page
    assert 'role="search"' not in page
    assert "base role" not in page
    for other in (demo.JOHN, demo.PAUL, demo.RINGO):
        assert other not in page
    body = _page_json(billing)
    assert body["my_role"] == "READER"
    assert body["my_reasons"] == ["Reader: granted on this repository directly"]
    assert body["my_permissions"] == ["READ"]
    assert body["people"] is None and body["paging"] is None
    text = str(body)
    for other in (demo.JOHN, demo.PAUL, demo.RINGO):
        assert other not in text
    # A search sent anyway finds nobody and says nothing.
    searched = billing.get(f"{PAGE}?q=john", headers=JSON).get_json()
    assert searched["people"] is None
    # No link to the repositories, which they may not list (403).
    assert f'href="/orgs/{demo.BEATLES_ID}/repos"' not in page
    # What the page costs them cold: no more than the matrix's owner (3).
    oso = get_oso(app)
    oso.clear_caches()
    before = oso.queries
    assert billing.get(PAGE).status_code == 200
    assert oso.queries - before <= 3


def test_a_billing_manager_who_is_a_direct_admin_sees_and_manages_the_people(
    app: Flask, db: Session
) -> None:
    """MANAGE_ROLES gives LIST_ROLES: an Admin sees whom they manage."""
    _grant(db, demo.GEORGE, "ADMIN")
    billing = client_for(app, "billing")
    page = billing.get(PAGE).get_data(as_text=True)
    assert "People with access" in page and "Give a role" in page
    assert demo.RINGO in page
    body = _page_json(billing)
    assert body["may_manage_roles"] is True
    assert "LIST_ROLES" in body["my_permissions"]
    assert _person(body, demo.JOHN)["role"] == "ADMIN"
    data = {"user_email": demo.PAUL, "name": "WRITER"}
    assert _post(billing, f"{PAGE}/roles", data).status_code == 302
    assert _direct(db, demo.PAUL) == "WRITER"


@pytest.mark.parametrize(
    ("actor", "path"),
    [
        ("billing", PAGE),
        ("no_role", PAGE),
        ("other_owner", PAGE),
        ("owner", f"/orgs/{demo.BEATLES_ID}/repos/{PAPERWORK}"),  # another org's
        ("other_owner", f"/orgs/{demo.MONSTERS_ID}/repos/{ABBEY_ROAD}"),
        ("owner", f"/orgs/{demo.BEATLES_ID}/repos/999"),
    ],
)
def test_who_may_not_read_it_gets_404(app: Flask, actor: str, path: str) -> None:
    assert client_for(app, actor).get(path).status_code == 404


def test_no_base_role_lists_only_owners_and_grantees(app: Flask, db: Session) -> None:
    organization = db.get(Organization, demo.BEATLES_ID)
    assert organization is not None
    organization.base_repository_role = None
    db.commit()
    _grant(db, demo.RINGO, "WRITER")
    assert client_for(app, "member").get(PAGE).status_code == 404
    body = _page_json(client_for(app, "owner"))
    assert [p["user"]["email"] for p in body["people"]] == [demo.JOHN, demo.RINGO]
    assert _person(body, demo.JOHN)["reasons"] == [
        "Admin: every Owner of The Beatles is an Admin on its repositories"
    ]


def test_search_by_email(app: Flask) -> None:
    body = _page_json(client_for(app, "owner"), PAGE + "?q=RINGO")
    assert [p["user"]["email"] for p in body["people"]] == [demo.RINGO]
    long = client_for(app, "owner").get(PAGE + "?q=" + "x" * 300)
    assert long.status_code == 400


def test_people_are_paged(app: Flask, db: Session) -> None:
    for number in range(60):
        user = User(email=f"fan{number:02}@beatles.com", password_hash="x")
        db.add(user)
        db.flush()
        db.add(
            OrganizationRole(
                user_id=user.id, organization_id=demo.BEATLES_ID, name="MEMBER"
            )
        )
    db.commit()
    owner = client_for(app, "owner")
    first = _page_json(owner)
    assert len(first["people"]) == 50 and first["paging"]["total"] == 63
    second = _page_json(owner, PAGE + "?page=2")
    assert len(second["people"]) == 13
    assert owner.get(PAGE + "?page=3").status_code == 404


# --- management ---------------------------------------------------------------------


def test_add_change_remove_with_audit_and_words(app: Flask, db: Session) -> None:
    owner = client_for(app, "owner")
    roles = f"{PAGE}/roles"
    added = _post(owner, roles, {"user_email": "Paul@Beatles.com", "name": "WRITER"})
    assert added.status_code == 302
    assert _direct(db, demo.PAUL) == "WRITER"
    page = owner.get(PAGE).get_data(as_text=True)
    assert (
        "paul@beatles.com is now a Writer on Abbey Road. They can now push changes."
        in page
    )
    paul = user_by_email(db, demo.PAUL)
    changed = _post(owner, f"{roles}/{paul.id}", {"name": "ADMIN", "current": "WRITER"})
    assert changed.status_code == 302
    assert _direct(db, demo.PAUL) == "ADMIN"
    assert "paul@beatles.com is now an Admin on Abbey Road. They can now rename" in (
        owner.get(PAGE).get_data(as_text=True)
    )
    removed = _post(owner, f"{roles}/{paul.id}/delete", {"current": "ADMIN"})
    assert removed.status_code == 302
    assert _direct(db, demo.PAUL) is None
    said = owner.get(PAGE).get_data(as_text=True)
    assert "paul@beatles.com no longer has a role on Abbey Road directly." in said
    assert "They are still a Reader on it" in said
    entries = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.repository_id == ABBEY_ROAD)
        .order_by(AuditEntry.id)
    ).all()
    assert [(e.action, e.old_role, e.new_role) for e in entries] == [
        ("add_repository_role", None, "WRITER"),
        ("change_repository_role", "WRITER", "ADMIN"),
        ("remove_repository_role", "ADMIN", None),
    ]
    for entry in entries:
        assert entry.user_id == paul.id and entry.user_email == demo.PAUL
        assert entry.repository_name == "Abbey Road"
        assert entry.actor_email == demo.JOHN


def test_json_management(app: Flask, db: Session) -> None:
    owner = client_for(app, "owner")
    answer = _post(
        owner, f"{PAGE}/roles", {"user_email": demo.PAUL, "name": "ADMIN"}, json=True
    )
    assert answer.status_code == 200
    assert answer.get_json()["message"].startswith(
        "paul@beatles.com is now an Admin on Abbey Road."
    )
    assert _direct(db, demo.PAUL) == "ADMIN"


def test_the_same_role_again_changes_nothing(app: Flask, db: Session) -> None:
    _grant(db, demo.RINGO, "WRITER")
    owner = client_for(app, "owner")
    answer = _post(
        owner, f"{PAGE}/roles", {"user_email": demo.RINGO, "name": "WRITER"}, json=True
    )
    assert answer.status_code == 200
    assert answer.get_json()["message"] == (
        "ringo@beatles.com is already granted Writer on Abbey Road directly:"
        " nothing changed."
    )
    assert db.scalar(select(AuditEntry.id).where(AuditEntry.repository_id == 1)) is None


@pytest.mark.parametrize(
    "email",
    [
        "mike@monsters.com",  # an account, in another organization
        "nobody@nowhere.example",  # no account: the same answer
    ],
)
def test_granting_to_a_non_member_is_refused(
    app: Flask, db: Session, email: str
) -> None:
    before = _grants(db)
    owner = client_for(app, "owner")
    answer = _post(
        owner, f"{PAGE}/roles", {"user_email": email, "name": "READER"}, json=True
    )
    assert answer.status_code == 422
    message = answer.get_json()["message"]
    assert message == (
        f"Nobody with the email {email!r} has a role in The Beatles. A repository"
        " role can only be given to someone who is in the organization: an Owner"
        " of The Beatles can add them first."
    )
    assert _grants(db) == before


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"user_email": demo.RINGO, "name": "OWNER"}, "name"),
        ({"user_email": demo.RINGO, "name": "x" * 10_000}, "name"),
        ({"user_email": demo.RINGO}, "name"),
        ({"user_email": "x" * 10_000 + "@beatles.com", "name": "READER"}, "user_email"),
        ({"user_email": "", "name": "READER"}, "user_email"),
        ({"user_email": "ringo\x00@beatles.com", "name": "READER"}, "user_email"),
    ],
)
def test_bad_grant_input_is_422(
    app: Flask, db: Session, data: dict[str, str], field: str
) -> None:
    before = _grants(db)
    owner = client_for(app, "owner")
    answer = _post(owner, f"{PAGE}/roles", data, json=True)
    assert answer.status_code == 422
    assert field in answer.get_json()["errors"]
    html = _post(owner, f"{PAGE}/roles", data)
    assert html.status_code == 422
    assert "There is a problem" in html.get_data(as_text=True)
    assert _grants(db) == before


def test_stale_forms_are_409_and_removed_meanwhile_404(app: Flask, db: Session) -> None:
    _grant(db, demo.RINGO, "ADMIN")
    ringo = user_by_email(db, demo.RINGO).id
    owner = client_for(app, "owner")
    # Drawn when Ringo was a Writer; he is an Admin now.
    stale = _post(
        owner, f"{PAGE}/roles/{ringo}", {"name": "READER", "current": "WRITER"}
    )
    assert stale.status_code == 409
    assert "while you were looking" in stale.get_data(as_text=True)
    stale = _post(owner, f"{PAGE}/roles/{ringo}/delete", {"current": "WRITER"})
    assert stale.status_code == 409
    assert _direct(db, demo.RINGO) == "ADMIN"
    # Removed meanwhile: changing or removing it again is 404.
    assert (
        _post(owner, f"{PAGE}/roles/{ringo}/delete", {"current": "ADMIN"}).status_code
        == 302
    )
    gone = _post(owner, f"{PAGE}/roles/{ringo}/delete", {"current": "ADMIN"}, json=True)
    assert gone.status_code == 404
    assert "has no role granted on Abbey Road directly" in gone.get_json()["message"]
    gone = _post(owner, f"{PAGE}/roles/{ringo}", {"name": "READER"})
    assert gone.status_code == 404
    # Someone of another organization, or nobody: 404 too.
    mike = user_by_email(db, demo.MIKE).id
    other = _post(owner, f"{PAGE}/roles/{mike}/delete", {}, json=True)
    assert other.status_code == 404
    assert demo.MIKE not in other.get_data(as_text=True)
    assert _post(owner, f"{PAGE}/roles/99999", {"name": "READER"}).status_code == 404


@pytest.mark.parametrize(
    "data", [{"name": "OWNER"}, {"name": "READER", "current": "BOSS"}, {}]
)
def test_bad_change_input_is_422(app: Flask, db: Session, data: dict[str, str]) -> None:
    _grant(db, demo.RINGO, "WRITER")
    ringo = user_by_email(db, demo.RINGO).id
    owner = client_for(app, "owner")
    assert _post(owner, f"{PAGE}/roles/{ringo}", data).status_code == 422
    assert _direct(db, demo.RINGO) == "WRITER"


def test_management_is_refused_to_who_may_not_manage(app: Flask, db: Session) -> None:
    before = _grants(db)
    ringo = user_by_email(db, demo.RINGO).id
    data = {"user_email": demo.PAUL, "name": "ADMIN"}
    assert _post(client_for(app, "member"), f"{PAGE}/roles", data).status_code == 403
    billing = client_for(app, "billing")
    token = csrf_token(billing, "/orgs")
    answer = billing.post(f"{PAGE}/roles", data={**data, "csrf_token": token})
    assert answer.status_code == 404
    other = client_for(app, "other_owner")
    token = csrf_token(other, "/orgs")
    answer = other.post(f"{PAGE}/roles/{ringo}/delete", data={"csrf_token": token})
    assert answer.status_code == 404
    assert _grants(db) == before


def test_a_direct_admin_manages_roles(app: Flask, db: Session) -> None:
    _grant(db, demo.PAUL, "ADMIN")
    paul = client_for(app, "member")
    answer = _post(paul, f"{PAGE}/roles", {"user_email": demo.RINGO, "name": "ADMIN"})
    assert answer.status_code == 302
    assert _direct(db, demo.RINGO) == "ADMIN"


# --- the reasons follow the policy ------------------------------------------------


def test_reasons_follow_a_changed_policy(app: Flask) -> None:
    """Owners only WRITER, and billing managers get the base role too: the
    reasons and the list follow, with no word of Python changed."""
    changed = POLICY.replace(
        '"ADMIN" if "OWNER" on "parent";', '"WRITER" if "OWNER" on "parent";'
    ).replace(
        '  has_role(actor, "MEMBER", organization) and\n'
        "  name = organization.base_repository_role;",
        '  has_role(actor, "BILLING", organization) and\n'
        "  name = organization.base_repository_role;",
    )
    assert changed.count('BILLING", organization) and') == 1
    oso = get_oso(app)
    oso.clear_rules()
    oso.load_str(changed)
    relearn_repository_access(app)
    with app.app_context():
        explain = repository_access(app)
        assert explain.base_through() == ("BILLING",)
    body = _page_json(client_for(app, "owner"))
    assert body["my_role"] == "WRITER"
    john = _person(body, demo.JOHN)
    assert john["reasons"] == [
        "Writer: every Owner of The Beatles is a Writer on its repositories",
        "Reader: the base role of The Beatles, which every Billing manager gets"
        " (an Owner is also a Billing manager)",
    ]
    george = _person(body, demo.GEORGE)
    assert george["reasons"] == [
        "Reader: the base role of The Beatles, which every Billing manager gets"
    ]
    # Ringo keeps the demo's direct Writer.
    emails = [p["user"]["email"] for p in body["people"]]
    assert emails == [demo.GEORGE, demo.JOHN, demo.RINGO]


def test_the_audit_log_shows_repository_role_changes(app: Flask) -> None:
    owner = client_for(app, "owner")
    data = {"user_email": demo.PAUL, "name": "WRITER"}
    assert _post(owner, f"{PAGE}/roles", data).status_code == 302
    audit = owner.get(f"/orgs/{demo.BEATLES_ID}/audit")
    assert audit.status_code == 200
    assert "paul@beatles.com" in audit.get_data(as_text=True)


def test_a_grant_the_database_refuses_is_409_and_changes_nothing(
    app: Flask, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The foreign key is the race's last line of defence: a grant for someone
    whose organization role went between the check and the insert (simulated:
    the check answers for a non-member) is refused, 409, nothing written."""
    before = _grants(db)
    mike = user_by_email(db, demo.MIKE)
    db.expunge(mike)

    def stale_member(session: Session, organization: Organization, email: str) -> Any:
        return OrganizationRole(
            user_id=mike.id, organization_id=organization.id, name="MEMBER", user=mike
        )

    monkeypatch.setattr(repository_roles, "member_by_email", stale_member)
    owner = client_for(app, "owner")
    data = {"user_email": demo.MIKE, "name": "WRITER"}
    answer = _post(owner, f"{PAGE}/roles", data, json=True)
    assert answer.status_code == 409, answer.get_data(as_text=True)
    assert "while you were looking" in answer.get_json()["message"]
    assert _grants(db) == before
    assert db.scalar(select(AuditEntry.id).where(AuditEntry.repository_id == 1)) is None


def test_a_grant_below_what_the_organization_gives_says_so(app: Flask) -> None:
    owner = client_for(app, "owner")
    data = {"user_email": demo.JOHN, "name": "READER"}
    answer = _post(owner, f"{PAGE}/roles", data, json=True)
    assert answer.status_code == 200
    assert answer.get_json()["message"] == (
        "You were given Reader on Abbey Road directly. You are still"
        " an Admin on it (every Owner of The Beatles is an Admin on its"
        " repositories)."
    )
    john = _person(_page_json(owner), demo.JOHN)
    assert john["role"] == "ADMIN" and john["direct_role"] == "READER"


def test_the_base_role_is_said_of_whom_the_policy_gives_it(app: Flask) -> None:
    """A policy that gives the base role to billing managers: the settings page
    and its change say "Every Billing manager", with no word of Python changed."""
    changed = POLICY.replace(
        '  has_role(actor, "MEMBER", organization) and\n'
        "  name = organization.base_repository_role;",
        '  has_role(actor, "BILLING", organization) and\n'
        "  name = organization.base_repository_role;",
    )
    assert changed != POLICY
    oso = get_oso(app)
    oso.clear_rules()
    oso.load_str(changed)
    relearn_repository_access(app)
    owner = client_for(app, "owner")
    settings = f"/orgs/{demo.BEATLES_ID}/settings"
    page = owner.get(settings).get_data(as_text=True)
    assert "The role every Billing manager of The Beatles gets" in page
    assert "<legend>Every Billing manager gets</legend>" in page
    assert "Every Member" not in page
    token = csrf_token(owner, "/orgs")
    data = {
        "base_repository_role": "WRITER",
        "current_base_repository_role": "READER",
        "csrf_token": token,
    }
    answer = owner.post(settings, data=data)
    assert answer.status_code == 302
    said = owner.get(answer.location).get_data(as_text=True)
    assert (
        "Every Billing manager of The Beatles is now a Writer on each of its"
        " repositories." in said
    )
    shown = owner.get(PAGE).get_data(as_text=True)
    assert "Every Billing manager of The Beatles is at least a Writer here" in shown


# --- taking your own access away ---------------------------------------------------


def test_removing_your_own_grant_says_you_and_goes_to_the_repositories(
    app: Flask, db: Session
) -> None:
    """Randall, a member of Monsters Inc. (no base role), creates a repository
    (its Admin by direct grant) and removes his grant: the page is no longer
    his to read, so he lands on the organization's repositories, told so."""
    randall = app.test_client()
    assert AuthActions(randall).login(demo.RANDALL).status_code == 302
    repos = f"/orgs/{demo.MONSTERS_ID}/repos"
    token = csrf_token(randall, repos)
    created = randall.post(repos, data={"name": "Scare Floor", "csrf_token": token})
    assert created.status_code == 302
    page = created.location
    assert randall.get(page).status_code == 200
    me = user_by_email(db, demo.RANDALL).id
    token = csrf_token(randall, page)
    removed = randall.post(
        f"{page}/roles/{me}/delete", data={"current": "ADMIN", "csrf_token": token}
    )
    assert removed.status_code == 302
    assert removed.location == repos
    landed = randall.get(removed.location)
    assert landed.status_code == 200
    said = html.unescape(landed.get_data(as_text=True))
    assert (
        "You no longer have a role on Scare Floor directly. You can no longer see"
        " the repository, push changes, rename the repository, delete the"
        " repository or manage the repository's people. You no longer have access"
        " to it." in said
    )
    assert "They no longer" not in said
    assert randall.get(page).status_code == 404


def test_a_billing_manager_removing_their_own_grant_goes_to_the_overview(
    app: Flask, db: Session
) -> None:
    """A billing manager may not list repositories: the overview, not a 403."""
    _grant(db, demo.GEORGE, "ADMIN")
    billing = client_for(app, "billing")
    george = user_by_email(db, demo.GEORGE).id
    answer = _post(
        billing, f"{PAGE}/roles/{george}/delete", {"current": "ADMIN"}, json=True
    )
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["location"] == f"/orgs/{demo.BEATLES_ID}"
    assert body["message"].startswith(
        "You no longer have a role on Abbey Road directly."
    )
    assert body["message"].endswith("You no longer have access to it.")
    assert billing.get(body["location"]).status_code == 200
