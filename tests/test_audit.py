"""The audit trail: every role change leaves one entry, written with the change;
GET /orgs/<id>/audit lists them, newest first, 50 a page.

Additions and changes go through the role form as john; removals and leaving go
through portal.domain.roles directly (their pages are built elsewhere), as the command
line would call it. Who may open the page is tests/routes.py's MATRIX.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from portal.domain import demo, roles
from portal.domain import roles as domain_roles
from portal.domain.models import AuditEntry, Organization, OrganizationRole
from portal.infra import db as portal_db
from tests.conftest import (
    AuthActions,
    RoleActions,
    organization,
    role_of,
    user_by_email,
)
from tests.database import committed
from tests.factories import bulk_audit_entries, make_role, make_user

MOMENT = datetime(2026, 11, 29, 1, 23, 45, tzinfo=UTC)

# (action, actor_email, user_email, old_role, new_role) of an entry.
Entry = tuple[str, str | None, str | None, str | None, str | None]


def entries(bind: Session | Engine, org_id: int = demo.BEATLES_ID) -> list[Entry]:
    """The organization's entries as committed, oldest first."""
    statement = (
        select(
            AuditEntry.action,
            AuditEntry.actor_email,
            AuditEntry.user_email,
            AuditEntry.old_role,
            AuditEntry.new_role,
        )
        .where(AuditEntry.organization_id == org_id)
        .order_by(AuditEntry.id)
    )
    with committed(bind) as connection:
        return [
            (action, actor, user, old, new)
            for action, actor, user, old, new in connection.execute(statement)
        ]


def shown(client: FlaskClient, path: str = "/orgs/1/audit") -> list[list[str]]:
    """The audit page's rows as the reader sees them: [when, who, what] each."""
    response = client.get(path)
    assert response.status_code == 200, path
    return rows_of(response.text)


def rows_of(page: str) -> list[list[str]]:
    """The rows of a page's table body, each cell's text with tags removed."""
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S)
    if body is None:
        return []
    return [
        [
            " ".join(unescape(re.sub(r"<[^>]+>", "", cell)).split())
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


def change_directly(
    app: Flask, email: str, actor: str | None, new: str | None = None
) -> None:
    """Reassign email's role in The Beatles to new (None: remove it) as actor
    (None: the command line), committed, as the command line would do it."""
    with app.app_context(), portal_db.writer_session() as session:
        org = organization(session, demo.BEATLES_ID)
        user = user_by_email(session, email)
        by = user_by_email(session, actor) if actor is not None else None
        if new is None:
            roles.delete_user_role(session, org, user, actor=by)
        else:
            roles.reassign_user_role(session, org, user, new, actor=by)


@pytest.fixture
def at_moment(app: Flask) -> datetime:
    """The app's clock stopped at MOMENT."""
    app.config["CLOCK"] = lambda: MOMENT
    return MOMENT


# --- each kind of change writes exactly one entry --------------------------------


def test_audit_add_through_the_form_records_one_entry(
    auth: AuthActions, roles: RoleActions, db: Session
) -> None:
    # Issue 19: the roles page's form invites (tests/test_invitations.py has
    # the entry of the acceptance that adds the role).
    auth.login(demo.JOHN)
    assert roles.assign(1, demo.ADMIN, "MEMBER").status_code == 302
    assert entries(db) == [("invite", demo.JOHN, demo.ADMIN, None, "MEMBER")]


def test_audit_change_through_the_form_records_one_entry(
    client: FlaskClient, auth: AuthActions, roles: RoleActions, db: Session
) -> None:
    # Roles change on the member page (the roles page's rows post there too).
    auth.login(demo.JOHN)
    ringo = user_by_email(db, demo.RINGO)
    role = db.scalars(
        select(OrganizationRole).where(OrganizationRole.user_id == ringo.id)
    ).one()
    data = {"name": "BILLING", "current": "MEMBER", "current_id": str(role.id)}
    response = client.post(
        f"/orgs/1/roles/{ringo.id}", data={"csrf_token": roles.csrf_token(), **data}
    )
    assert response.status_code == 302
    assert entries(db) == [("change", demo.JOHN, demo.RINGO, "MEMBER", "BILLING")]


def test_audit_removal_records_one_entry(app: Flask, db: Session) -> None:
    change_directly(app, demo.RINGO, actor=demo.JOHN)
    assert entries(db) == [("remove", demo.JOHN, demo.RINGO, "MEMBER", None)]


def test_audit_removing_oneself_records_a_leave(app: Flask, db: Session) -> None:
    change_directly(app, demo.RINGO, actor=demo.RINGO)
    assert entries(db) == [("leave", demo.RINGO, demo.RINGO, "MEMBER", None)]


def test_audit_entry_keeps_ids_and_the_time_of_the_change(
    app: Flask, db: Session, at_moment: datetime
) -> None:
    change_directly(app, demo.RINGO, actor=demo.JOHN, new="BILLING")
    entry = db.scalars(select(AuditEntry)).one()
    john, ringo = user_by_email(db, demo.JOHN), user_by_email(db, demo.RINGO)
    assert (entry.actor_id, entry.user_id) == (john.id, ringo.id)
    assert entry.at_utc == at_moment


def test_audit_command_line_change_has_no_actor(app: Flask, db: Session) -> None:
    change_directly(app, demo.RINGO, actor=None, new="BILLING")
    entry = db.scalars(select(AuditEntry)).one()
    assert (entry.actor_id, entry.actor_email) == (None, None)


# --- refused and rolled-back changes leave nothing --------------------------------


@pytest.mark.parametrize(
    ("email", "name", "status"),
    [
        (demo.JOHN, "MEMBER", 409),  # already an owner: the form changes no role
        ("nobody@", "MEMBER", 422),  # not an email
        (demo.RINGO, "MEMBER", 409),  # already MEMBER
        (demo.RINGO, "ADMIN", 422),  # not a role
    ],
)
def test_audit_refused_change_writes_no_entry(
    auth: AuthActions,
    roles: RoleActions,
    db: Session,
    email: str,
    name: str,
    status: int,
) -> None:
    auth.login(demo.JOHN)
    assert roles.assign(1, email, name).status_code == status
    assert entries(db) == []


def test_audit_change_that_rolls_back_leaves_no_entry(app: Flask, db: Session) -> None:
    org = organization(db, demo.BEATLES_ID)
    ringo = user_by_email(db, demo.RINGO)
    with pytest.raises(RuntimeError), portal_db.transaction(db):
        roles.reassign_user_role(db, org, ringo, "BILLING", actor=None)
        raise RuntimeError("something after the change fails")
    assert entries(db) == []
    assert role_of(db, demo.RINGO, demo.BEATLES_ID) == "MEMBER"


# --- entries outlive the people and go with the organization ----------------------


def test_audit_entries_keep_the_emails_of_deleted_people(
    app: Flask, db: Session, client: FlaskClient, auth: AuthActions
) -> None:
    org = organization(db, demo.BEATLES_ID)
    boss, target = make_user(db, "boss@beatles.com"), make_user(db, "temp@beatles.com")
    make_role(db, boss, org, "OWNER")
    db.commit()
    with app.app_context():
        roles.add_user_role(db, org, target, "BILLING", actor=boss)
        db.commit()
    # Through the ORM, as an account deletion would: the entry must not stop it.
    db.delete(boss)
    db.delete(target)
    db.commit()
    entry = db.scalars(select(AuditEntry)).one()
    assert (entry.actor_id, entry.user_id) == (None, None)
    auth.login(demo.JOHN)
    assert [who_what for _, *who_what in shown(client)] == [
        ["boss@beatles.com", "added temp@beatles.com as Billing manager"]
    ]


def test_audit_entries_go_with_their_organization(app: Flask, db: Session) -> None:
    change_directly(app, demo.RINGO, actor=demo.JOHN, new="BILLING")
    db.execute(delete(Organization).where(Organization.id == demo.BEATLES_ID))
    db.commit()
    assert entries(db) == []


# --- the page -----------------------------------------------------------------------


def test_audit_page_describes_each_kind_of_change(
    app: Flask, client: FlaskClient, auth: AuthActions, roles: RoleActions
) -> None:
    auth.login(demo.JOHN)
    roles.assign(1, demo.ADMIN, "MEMBER")  # an invitation (issue 19)
    with app.app_context(), portal_db.writer_session() as session:
        org = organization(session, demo.BEATLES_ID)
        admin, john = (user_by_email(session, e) for e in (demo.ADMIN, demo.JOHN))
        domain_roles.add_user_role(session, org, admin, "MEMBER", actor=john)
    change_directly(app, demo.RINGO, actor=demo.JOHN, new="BILLING")
    change_directly(app, demo.ADMIN, actor=demo.JOHN)
    change_directly(app, demo.PAUL, actor=demo.PAUL)
    change_directly(app, demo.GEORGE, actor=None, new="MEMBER")
    assert [who_what for _, *who_what in shown(client)] == [
        ["command line", "changed george@beatles.com from Billing manager to Member"],
        ["paul@beatles.com", "paul@beatles.com left (was Member)"],
        ["john@beatles.com", "removed admin@admin.com (was Member)"],
        [
            "john@beatles.com",
            "changed ringo@beatles.com from Member to Billing manager",
        ],
        ["john@beatles.com", "added admin@admin.com as Member"],
        ["john@beatles.com", "invited admin@admin.com as Member"],
    ]


def test_audit_page_shows_the_time_in_utc(
    app: Flask, client: FlaskClient, auth: AuthActions, at_moment: datetime
) -> None:
    change_directly(app, demo.RINGO, actor=demo.JOHN, new="BILLING")
    auth.login(demo.JOHN)
    [[when, _, _]] = shown(client)
    page = client.get("/orgs/1/audit").text
    assert when == "2026-11-29 01:23:45 UTC"
    assert '<time datetime="2026-11-29T01:23:45+00:00">' in page


def test_audit_page_lists_newest_first(
    app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    # why: the clock runs backwards here, so the order must come from the
    # entries' order of writing, not from a sort on their times
    for minutes, new in [(3, "BILLING"), (2, "OWNER"), (1, "MEMBER")]:
        app.config["CLOCK"] = lambda m=minutes: MOMENT + timedelta(minutes=m)
        change_directly(app, demo.RINGO, actor=demo.JOHN, new=new)
    auth.login(demo.JOHN)
    assert [what for _, _, what in shown(client)] == [
        "changed ringo@beatles.com from Owner to Member",
        "changed ringo@beatles.com from Billing manager to Owner",
        "changed ringo@beatles.com from Member to Billing manager",
    ]


def test_audit_page_without_entries_shows_the_empty_state(
    client: FlaskClient, auth: AuthActions
) -> None:
    auth.login(demo.JOHN)
    page = client.get("/orgs/1/audit").text
    assert "No role has changed in The Beatles since the audit log began." in page
    assert "<table" not in page


@pytest.mark.parametrize(
    ("query", "summary", "count", "first", "last"),
    [
        ("", "Showing 1–50 of 120 changes", 50, "user-119", "user-070"),
        ("?page=2", "Showing 51–100 of 120 changes", 50, "user-069", "user-020"),
        ("?page=3", "Showing 101–120 of 120 changes", 20, "user-019", "user-000"),
    ],
)
def test_audit_page_holds_fifty_entries(
    db: Session,
    client: FlaskClient,
    auth: AuthActions,
    query: str,
    summary: str,
    count: int,
    first: str,
    last: str,
) -> None:
    bulk_audit_entries(db, demo.BEATLES_ID, 120)
    db.commit()
    auth.login(demo.JOHN)
    page = client.get(f"/orgs/1/audit{query}").text
    rows = rows_of(page)
    assert summary in page
    assert len(rows) == count
    # "changed user-119@example.com from ...": the second word names the entry.
    assert (rows[0][2].split()[1], rows[-1][2].split()[1]) == (
        f"{first}@example.com",
        f"{last}@example.com",
    )


@pytest.mark.parametrize(
    ("query", "status"),
    [("page=0", 400), ("page=-1", 400), ("page=abc", 400), ("page=999999", 404)],
)
def test_audit_page_refuses_bad_page_numbers(
    client: FlaskClient, auth: AuthActions, query: str, status: int
) -> None:
    auth.login(demo.JOHN)
    assert client.get(f"/orgs/1/audit?{query}").status_code == status


def test_audit_page_shows_no_other_organizations_entries(
    app: Flask, db: Session, client: FlaskClient, auth: AuthActions
) -> None:
    with app.app_context(), portal_db.writer_session() as session:
        monsters = organization(session, demo.MONSTERS_ID)
        sully = user_by_email(session, demo.SULLY)
        roles.reassign_user_role(session, monsters, sully, "BILLING", actor=None)
    change_directly(app, demo.RINGO, actor=demo.JOHN, new="BILLING")
    auth.login(demo.JOHN)
    assert [what for _, _, what in shown(client)] == [
        "changed ringo@beatles.com from Member to Billing manager"
    ]


@pytest.mark.parametrize(
    ("email", "shown_tab"), [(demo.JOHN, True), (demo.PAUL, False)]
)
def test_audit_tab_is_shown_to_those_who_may_read_the_log(
    client: FlaskClient, auth: AuthActions, email: str, shown_tab: bool
) -> None:
    auth.login(email)
    page = client.get("/orgs/1").text
    assert ('href="/orgs/1/audit"' in page) is shown_tab
