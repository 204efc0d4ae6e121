"""Invitations by email (issue 19), through the doors people use: the roles
page's form, the mailed link (read from the outbox), the CLI's ``invite``."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal import mail
from portal.domain import demo
from portal.domain.models import (
    AuditEntry,
    Invitation,
    Organization,
    OutboxMessage,
    User,
)
from portal.infra import clock
from tests.conftest import AuthActions, csrf_in, csrf_token, role_of
from tests.database import committed, committed_scalar, snapshot
from tests.factories import bulk_roles, bulk_users
from tests.smtp import SmtpServer, links_in
from tests.test_security import Clock

BEATLES = demo.BEATLES_ID
LINK = re.compile(r"https?://\S+/invitations/([A-Za-z0-9_-]+)")


@dataclass(frozen=True)
class Mail:
    """One queued mail, as the outbox holds it."""

    to: str
    subject: str
    body: str

    @property
    def token(self) -> str:
        found = LINK.search(self.body)
        assert found, f"no invitation link in {self.body!r}"
        return found.group(1)

    @property
    def path(self) -> str:
        return f"/invitations/{self.token}"


def mails(session: Session, to: str | None = None) -> list[Mail]:
    """The invitation mails queued so far (to one address), oldest first."""
    statement = select(
        OutboxMessage.to_address, OutboxMessage.subject, OutboxMessage.body
    ).where(OutboxMessage.kind == "invitation")
    if to is not None:
        statement = statement.where(OutboxMessage.to_address == to)
    with committed(session) as connection:
        rows = connection.execute(statement.order_by(OutboxMessage.id)).all()
    return [Mail(*row) for row in rows]


def last_mail(session: Session, to: str) -> Mail:
    found = mails(session, to)
    assert found, f"no mail to {to}"
    return found[-1]


def audit_actions(session: Session, email: str) -> list[tuple[str, str | None]]:
    """(action, new_role) of the audit entries about email, oldest first."""
    statement = (
        select(AuditEntry.action, AuditEntry.new_role)
        .where(AuditEntry.user_email == email)
        .order_by(AuditEntry.id)
    )
    with committed(session) as connection:
        return [(a, r) for a, r in connection.execute(statement)]


def owner(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert AuthActions(client).login(demo.JOHN).status_code == 302
    return client


def invite(
    client: FlaskClient, email: str, role: str = "MEMBER", org_id: int = BEATLES
) -> TestResponse:
    token = csrf_token(client, "/orgs")
    return client.post(
        f"/orgs/{org_id}/roles",
        data={"user_email": email, "name": role, "csrf_token": token},
    )


def post_form(client: FlaskClient, path: str, **data: str) -> TestResponse:
    """POST to path with the CSRF token of the page at path."""
    page = client.get(path)
    token = csrf_in(page.get_data(as_text=True), path)
    return client.post(path, data={"csrf_token": token, **data})


PASSWORD = "a long enough passphrase"


# --- inviting ---------------------------------------------------------------


def test_invitations_new_person_sets_password_and_gets_the_role(
    app: Flask, db: Session
) -> None:
    response = invite(owner(app), "newcomer@example.com", "BILLING")
    assert response.status_code == 302
    mail = last_mail(db, "newcomer@example.com")
    assert mail.subject == "You are invited to an organization on Portal"
    assert "john@beatles.com invited you to join The Beatles" in mail.body
    assert "as a Billing manager" in mail.body
    assert mail.body.count("http://localhost") or "://" in mail.body
    assert role_of(db, "newcomer@example.com", BEATLES) is None  # not yet

    guest = app.test_client()
    page = guest.get(mail.path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Choose a password to accept" in html and "Billing manager" in html
    token = csrf_in(html)
    done = guest.post(
        mail.path,
        data={"csrf_token": token, "new_password": PASSWORD, "confirm": PASSWORD},
    )
    assert done.status_code == 302
    assert done.location == f"/orgs/{BEATLES}"
    assert role_of(db, "newcomer@example.com", BEATLES) == "BILLING"
    # Logged in with the role: the billing page opens.
    assert guest.get(f"/orgs/{BEATLES}/billing").status_code == 200
    # Single use: the link is dead, and nothing is left pending.
    assert guest.get(mail.path).status_code == 404
    assert committed_scalar(db, select(func.count()).select_from(Invitation)) == 0
    assert audit_actions(db, "newcomer@example.com") == [
        ("invite", "BILLING"),
        ("accept_invitation", "BILLING"),
    ]


def test_invitations_new_password_follows_the_password_rules(
    app: Flask, db: Session
) -> None:
    invite(owner(app), "short@example.com")
    mail = last_mail(db, "short@example.com")
    guest = app.test_client()
    token = csrf_in(guest.get(mail.path).get_data(as_text=True))
    refused = guest.post(
        mail.path, data={"csrf_token": token, "new_password": "short", "confirm": "x"}
    )
    assert refused.status_code == 422
    assert "Use between 12 and 128 characters." in refused.get_data(as_text=True)
    assert (
        committed_scalar(db, select(User.id).where(User.email == "short@example.com"))
        is None
    )


def test_invitations_answer_is_the_same_for_known_and_unknown_emails(
    app: Flask, db: Session
) -> None:
    # why: the old form said "There is no user with the email ..." and so told
    # any owner which emails have accounts
    client = owner(app)
    answers = []
    for email in (demo.ADMIN, "nobody-here@example.com"):  # an account; none
        headers = {"Accept": "application/json"}
        token = client.get("/orgs", headers=headers).get_json()["csrf_token"]
        started = time.perf_counter()
        response = client.post(
            f"/orgs/{BEATLES}/roles",
            json={"user_email": email, "name": "MEMBER"},
            headers={**headers, "X-CSRFToken": token},
        )
        elapsed = time.perf_counter() - started
        body = response.get_json()
        answers.append(
            (
                response.status_code,
                sorted(body),
                body["message"].replace(email, "EMAIL"),
                body["location"],
            )
        )
        assert elapsed < 2.0  # no slow path for either
    assert answers[0] == answers[1]
    assert answers[0][0] == 200
    assert "Invitation sent to EMAIL" in answers[0][2]
    # HTML: the same flash.
    flashes = []
    for email in ("admin2@example.com", demo.ADMIN.replace("admin", "Admin")):
        response = invite(client, email)
        assert response.status_code == 302
        page = client.get(f"/orgs/{BEATLES}/roles").get_data(as_text=True)
        flashes.append("Invitation sent to" in page)
    assert flashes == [True, True]
    # Both got the same mail, whether or not they have an account.
    known, unknown = last_mail(db, demo.ADMIN), last_mail(db, "nobody-here@example.com")
    assert known.subject == unknown.subject
    assert known.body.replace(known.token, "T") == unknown.body.replace(
        unknown.token, "T"
    )


def test_invitations_someone_already_a_member_is_refused_and_nothing_changes(
    app: Flask, db: Session
) -> None:
    client = owner(app)
    before = snapshot(app.extensions["portal.engine"])
    response = invite(client, demo.PAUL, "OWNER")
    assert response.status_code == 409
    assert "paul@beatles.com is already a Member here" in response.get_data(
        as_text=True
    )
    assert snapshot(app.extensions["portal.engine"]) == before
    assert role_of(db, demo.PAUL, BEATLES) == "MEMBER"


def test_invitations_an_email_of_10000_characters_is_refused(
    app: Flask, db: Session
) -> None:
    client = owner(app)
    before = snapshot(app.extensions["portal.engine"])
    response = invite(client, "a" * 10_000 + "@example.com")
    assert response.status_code == 422
    assert "too long to be an email address" in response.get_data(as_text=True)
    assert snapshot(app.extensions["portal.engine"]) == before


@pytest.mark.parametrize("email", ["not an email", "x@", "a\r\nBcc: evil@x.com"])
def test_invitations_what_is_not_an_email_is_refused(
    app: Flask, db: Session, email: str
) -> None:
    response = invite(owner(app), email)
    assert response.status_code == 422
    assert mails(db) == []


def test_invitations_need_the_csrf_token(app: Flask, db: Session) -> None:
    client = owner(app)
    response = client.post(
        f"/orgs/{BEATLES}/roles", data={"user_email": "x@example.com", "name": "MEMBER"}
    )
    assert response.status_code == 400
    assert mails(db) == []


def test_invitations_only_owners_invite(app: Flask, db: Session) -> None:
    member = app.test_client()
    AuthActions(member).login(demo.PAUL)
    assert invite(member, "x@example.com").status_code == 403
    assert mails(db) == []


def test_invitations_header_injection_through_the_organization_name(
    app: Flask, db: Session
) -> None:
    # why: the organization's name is chosen by its owners; in a header, a line
    # break would add headers (Bcc:) to the mail
    with Session(app.extensions["portal.engine"]) as session, session.begin():
        org = session.get(Organization, BEATLES)
        assert org is not None
        org.name = "Evil\r\nBcc: victim@example.com"
    invite(owner(app), "target@example.com")
    mail = last_mail(db, "target@example.com")
    assert "\r" not in mail.subject and "\n" not in mail.subject
    assert "Bcc" not in mail.subject
    assert "join Evil  Bcc: victim@example.com on Portal" in mail.body
    assert "\nBcc:" not in mail.body


# --- the link ---------------------------------------------------------------


def test_invitations_existing_person_logs_in_then_accepts(
    app: Flask, db: Session
) -> None:
    invite(owner(app), demo.ADMIN, "MEMBER")
    mail = last_mail(db, demo.ADMIN)
    person = app.test_client()
    page = person.get(mail.path)
    assert page.status_code == 200
    assert f"Log in as {demo.ADMIN}" in page.get_data(as_text=True)
    # Accepting without logging in goes to the login page, and back.
    token = csrf_token(person, "/login")  # the page has no form to log in
    to_login = person.post(mail.path, data={"csrf_token": token})
    assert to_login.status_code == 302 and "/login" in to_login.location
    login = AuthActions(person).login(demo.ADMIN, next=mail.path)
    assert login.location == mail.path
    html = person.get(mail.path).get_data(as_text=True)
    assert "Accept" in html and "Decline" in html
    accepted = post_form(person, mail.path)
    assert accepted.status_code == 302
    assert role_of(db, demo.ADMIN, BEATLES) == "MEMBER"
    assert person.get(mail.path).status_code == 404  # used
    assert audit_actions(db, demo.ADMIN)[-1] == ("accept_invitation", "MEMBER")


def test_invitations_existing_person_declines(app: Flask, db: Session) -> None:
    invite(owner(app), demo.ADMIN)
    mail = last_mail(db, demo.ADMIN)
    person = app.test_client()
    AuthActions(person).login(demo.ADMIN)
    page = person.get(mail.path).get_data(as_text=True)
    declined = person.post(f"{mail.path}/decline", data={"csrf_token": csrf_in(page)})
    assert declined.status_code == 302
    assert role_of(db, demo.ADMIN, BEATLES) is None
    assert person.get(mail.path).status_code == 404
    assert audit_actions(db, demo.ADMIN)[-1] == ("decline_invitation", "MEMBER")


def test_invitations_someone_else_logged_in_gets_a_refusal_not_the_role(
    app: Flask, db: Session
) -> None:
    invite(owner(app), demo.ADMIN, "OWNER")
    mail = last_mail(db, demo.ADMIN)
    other = app.test_client()
    AuthActions(other).login(demo.MIKE)
    page = other.get(mail.path)
    assert page.status_code == 403
    assert "This invitation is not yours" in page.get_data(as_text=True)
    token = csrf_in(page.get_data(as_text=True))
    before = snapshot(app.extensions["portal.engine"])
    for path in (mail.path, f"{mail.path}/decline"):
        assert other.post(path, data={"csrf_token": token}).status_code == 403
    assert snapshot(app.extensions["portal.engine"]) == before
    assert role_of(db, demo.MIKE, BEATLES) is None


def test_invitations_expired_link_is_refused_and_audited_once(
    app: Flask, db: Session
) -> None:
    invite(owner(app), "late@example.com")
    mail = last_mail(db, "late@example.com")
    guest = app.test_client()
    token = csrf_in(guest.get(mail.path).get_data(as_text=True))
    later = clock.now() + timedelta(days=7, minutes=1)
    app.config["CLOCK"] = lambda: later
    # First seen by a POST (a request that writes), then by a GET.
    sent = guest.post(
        mail.path,
        data={"csrf_token": token, "new_password": PASSWORD, "confirm": PASSWORD},
    )
    assert sent.status_code == 404
    for _ in range(2):
        page = guest.get(mail.path)
        assert page.status_code == 404
        assert "This invitation link does not work" in page.get_data(as_text=True)
    assert (
        committed_scalar(db, select(User.id).where(User.email == "late@example.com"))
        is None
    )
    assert audit_actions(db, "late@example.com") == [
        ("invite", "MEMBER"),
        ("expire_invitation", "MEMBER"),
    ]


def test_invitations_expired_ones_leave_the_list_audited(
    app: Flask, db: Session
) -> None:
    client = owner(app)
    invite(client, "late@example.com")
    page = client.get(f"/orgs/{BEATLES}/roles").get_data(as_text=True)
    assert "Pending invitations" in page and "late@example.com" in page
    later = clock.now() + timedelta(days=8)
    app.config["CLOCK"] = lambda: later
    client = owner(app)  # the old session has expired too
    page = client.get(f"/orgs/{BEATLES}/roles").get_data(as_text=True)
    assert "People" in page and "late@example.com" not in page
    assert audit_actions(db, "late@example.com")[-1] == ("expire_invitation", "MEMBER")


@pytest.mark.parametrize(
    "token",
    ["x", "A" * 43, "not-a-token!", "a" * 5000, "%00", "..%2E..%2Eetc"],
)
def test_invitations_malformed_and_unknown_links_get_one_page(
    app: Flask, token: str
) -> None:
    for client in (app.test_client(), owner(app)):
        response = client.get(f"/invitations/{token}")
        assert response.status_code == 404
        assert "This invitation link does not work" in response.get_data(as_text=True)
        json = client.get(
            f"/invitations/{token}", headers={"Accept": "application/json"}
        )
        assert json.status_code == 404 and json.get_json()["status"] == 404


def test_invitations_revoked_link_is_dead(app: Flask, db: Session) -> None:
    client = owner(app)
    invite(client, "revoked@example.com")
    mail = last_mail(db, "revoked@example.com")
    invitation_id = committed_scalar(
        db, select(Invitation.id).where(Invitation.email == "revoked@example.com")
    )
    revoke = post_path(client, f"/orgs/{BEATLES}/invitations/{invitation_id}/revoke")
    assert revoke.status_code == 302
    assert app.test_client().get(mail.path).status_code == 404
    assert audit_actions(db, "revoked@example.com")[-1] == (
        "revoke_invitation",
        "MEMBER",
    )
    # Revoking again: 404, nothing changes.
    again = post_path(client, f"/orgs/{BEATLES}/invitations/{invitation_id}/revoke")
    assert again.status_code == 404


def post_path(client: FlaskClient, path: str) -> TestResponse:
    token = csrf_token(client, "/orgs")
    return client.post(path, data={"csrf_token": token})


def test_invitations_resend_kills_the_old_link(app: Flask, db: Session) -> None:
    client = owner(app)
    invite(client, "again@example.com")
    first = last_mail(db, "again@example.com")
    invitation_id = committed_scalar(
        db, select(Invitation.id).where(Invitation.email == "again@example.com")
    )
    resent = post_path(client, f"/orgs/{BEATLES}/invitations/{invitation_id}/resend")
    assert resent.status_code == 302
    second = last_mail(db, "again@example.com")
    assert second.token != first.token
    guest = app.test_client()
    assert guest.get(first.path).status_code == 404
    assert guest.get(second.path).status_code == 200
    assert audit_actions(db, "again@example.com")[-1] == (
        "resend_invitation",
        "MEMBER",
    )


def test_invitations_inviting_again_resends_with_the_new_role(
    app: Flask, db: Session
) -> None:
    client = owner(app)
    invite(client, "twice@example.com", "MEMBER")
    first = last_mail(db, "twice@example.com")
    assert invite(client, "twice@example.com", "BILLING").status_code == 302
    second = last_mail(db, "twice@example.com")
    assert app.test_client().get(first.path).status_code == 404
    assert "as a Billing manager" in second.body
    assert committed_scalar(db, select(func.count()).select_from(Invitation)) == 1


def test_invitations_resend_and_revoke_are_for_owners(app: Flask, db: Session) -> None:
    invite(owner(app), "x@example.com")
    invitation_id = committed_scalar(db, select(Invitation.id))
    member = app.test_client()
    AuthActions(member).login(demo.PAUL)
    other = app.test_client()
    AuthActions(other).login(demo.MIKE)
    before = snapshot(app.extensions["portal.engine"])
    for action in ("resend", "revoke"):
        path = f"/orgs/{BEATLES}/invitations/{invitation_id}/{action}"
        assert post_path(member, path).status_code == 403
        assert post_path(other, path).status_code == 404
        # Another organization's URL for this invitation: 404.
        path = f"/orgs/{demo.MONSTERS_ID}/invitations/{invitation_id}/{action}"
        assert post_path(other, path).status_code == 404
    assert snapshot(app.extensions["portal.engine"]) == before


def test_invitations_pending_do_not_count_as_owners(app: Flask, db: Session) -> None:
    # why: the last-owner rule counts roles, never offers of one
    client = owner(app)
    invite(client, "future-owner@example.com", "OWNER")
    page = client.get(f"/orgs/{BEATLES}/roles", headers={"Accept": "application/json"})
    body = page.get_json()
    assert body["counts"]["OWNER"] == 1
    assert [i["email"] for i in body["invitations"]["items"]] == [
        "future-owner@example.com"
    ]


def test_invitations_the_members_do_not_see_pending_invitations(
    app: Flask,
) -> None:
    invite(owner(app), "x@example.com")
    member = app.test_client()
    AuthActions(member).login(demo.PAUL)
    page = member.get(f"/orgs/{BEATLES}/roles")
    assert "x@example.com" not in page.get_data(as_text=True)
    body = member.get(
        f"/orgs/{BEATLES}/roles", headers={"Accept": "application/json"}
    ).get_json()
    assert body["invitations"] is None


def test_invitations_audit_log_says_them_in_words(app: Flask) -> None:
    client = owner(app)
    invite(client, "words@example.com", "BILLING")
    page = client.get(f"/orgs/{BEATLES}/audit").get_data(as_text=True)
    assert "invited words@example.com as" in page


# --- the command line -------------------------------------------------------


def test_invitations_cli_invite_prints_the_link_and_queues_the_mail(
    app: Flask, runner: FlaskCliRunner, db: Session
) -> None:
    result = runner.invoke(args=["invite", "cli@example.com", "The Beatles", "BILLING"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(
        "The Beatles (id 1): invitation sent to cli@example.com as BILLING, until"
    )
    mail = last_mail(db, "cli@example.com")
    assert lines[1].endswith(mail.path)
    assert lines[1].startswith(app.config["PUBLIC_URL"].rstrip("/"))
    assert "An administrator invited you" in mail.body
    entries = audit_actions(db, "cli@example.com")
    assert entries == [("invite", "BILLING")]


def test_invitations_cli_refuses_a_member_and_a_bad_email(
    runner: FlaskCliRunner, db: Session
) -> None:
    result = runner.invoke(args=["invite", demo.PAUL, "The Beatles", "OWNER"])
    assert result.exit_code == 1
    assert "is already MEMBER here" in result.output
    result = runner.invoke(args=["invite", "nope", "The Beatles", "OWNER"])
    assert result.exit_code == 2
    assert mails(db) == []


# --- at size ------------------------------------------------------------------


def test_invitations_a_big_organization_lists_them_in_one_query(
    app: Flask, db: Session
) -> None:
    # why: the 1,000-member organization with 100 pending invitations must stay
    # fast: a page of invitations is one query (and a count when it is full),
    # never one per row (their inviter, their organization)
    with Session(app.extensions["portal.engine"]) as session, session.begin():
        users = bulk_users(session, 1_000)
        bulk_roles(session, [(user_id, BEATLES, "MEMBER") for user_id in users])
        later = clock.now() + timedelta(days=3)
        session.execute(
            insert(Invitation),
            [
                {
                    "organization_id": BEATLES,
                    "email": f"pending-{i:03}@example.com",
                    "role": "MEMBER",
                    "token_hash": f"{i:064x}",
                    "inviter_id": 1,
                    "inviter_email": demo.JOHN,
                    "expires_at": later,
                    "created_at": later,
                }
                for i in range(100)
            ],
        )
    client = owner(app)
    statements: list[str] = []
    engine = app.extensions["portal.engine"]

    def record(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        started = clock.now()
        page = client.get(f"/orgs/{BEATLES}/roles")
        elapsed = clock.now() - started
    finally:
        event.remove(engine, "before_cursor_execute", record)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Pending invitations" in html and "pending-000@example.com" in html
    assert "Page 1 of 5" in html
    about_invitations = [s for s in statements if "FROM invitation" in s]
    # Whether any expired; the page; its count.
    assert len(about_invitations) == 3, about_invitations
    assert len(statements) < 25, statements
    assert elapsed < timedelta(seconds=2)
    second = client.get(f"/orgs/{BEATLES}/roles?invitations_page=5")
    assert "pending-099@example.com" in second.get_data(as_text=True)
    assert client.get(f"/orgs/{BEATLES}/roles?invitations_page=6").status_code == 404
    assert client.get(f"/orgs/{BEATLES}/roles?invitations_page=x").status_code == 400


def test_invitations_a_new_person_declines_with_the_link_alone(
    app: Flask, db: Session
) -> None:
    # why: someone without an account has nothing to log in with; the link is
    # their proof, and the audit names them, not the command line
    client = owner(app)
    invite(client, "no-thanks@example.com", "BILLING")
    mail = last_mail(db, "no-thanks@example.com")
    guest = app.test_client()
    token = csrf_in(guest.get(mail.path).get_data(as_text=True))
    declined = guest.post(f"{mail.path}/decline", data={"csrf_token": token})
    assert declined.status_code == 302 and declined.location == "/login"
    assert guest.get(mail.path).status_code == 404
    assert (
        committed_scalar(
            db, select(User.id).where(User.email == "no-thanks@example.com")
        )
        is None
    )
    rows = client.get(f"/orgs/{BEATLES}/audit").get_data(as_text=True)
    assert "no-thanks@example.com declined the invitation" in rows
    actor = committed_scalar(
        db,
        select(AuditEntry.actor_email).where(AuditEntry.action == "decline_invitation"),
    )
    assert actor == "no-thanks@example.com"


def test_invitations_an_account_made_meanwhile_must_log_in(
    app: Flask, db: Session
) -> None:
    # why: the page offered a password to set; the email got an account since
    # (the command line's create-user): setting a password would take it over
    invite(owner(app), "meanwhile@example.com")
    mail = last_mail(db, "meanwhile@example.com")
    guest = app.test_client()
    token = csrf_in(guest.get(mail.path).get_data(as_text=True))
    with Session(app.extensions["portal.engine"]) as session, session.begin():
        session.add(User(email="meanwhile@example.com", password_hash="-"))
    sent = guest.post(
        mail.path,
        data={"csrf_token": token, "new_password": PASSWORD, "confirm": PASSWORD},
    )
    assert sent.status_code == 302 and "/login" in sent.location
    assert role_of(db, "meanwhile@example.com", BEATLES) is None
    hashed = committed_scalar(
        db, select(User.password_hash).where(User.email == "meanwhile@example.com")
    )
    assert hashed == "-"  # untouched
    assert guest.get(mail.path).status_code == 200  # still pending


# --- a time-limited role, offered by invitation -----------------------------


def test_invitations_offer_a_time_limited_role_mailed_over_smtp(
    app: Flask, db: Session, smtp_server: SmtpServer
) -> None:
    # why: the invite form's expiry reaches the role once accepted (and the
    # mail, read from a real SMTP server, says until when); from that moment
    # the role grants nothing
    moment = Clock()
    app.config.update({"CLOCK": moment, **smtp_server.mail_settings()})
    client = owner(app)
    token = csrf_token(client, "/orgs")
    response = client.post(
        f"/orgs/{BEATLES}/roles",
        data={
            "user_email": "contractor@example.com",
            "name": "MEMBER",
            "expires": "2026-01-01 09:20",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    listed = client.get(f"/orgs/{BEATLES}/roles").get_data(as_text=True)
    assert "until 1 January 2026, 09:20 UTC" in listed
    assert mail.send_due(app).sent == 1
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "contractor@example.com"
    assert "as a Member, until 1 January 2026, 09:20 UTC." in str(
        message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    )
    [link] = [u for u in links_in(message) if "/invitations/" in u]
    path = urlsplit(link).path
    guest = app.test_client()
    html = guest.get(path).get_data(as_text=True)
    done = guest.post(
        path,
        data={
            "csrf_token": csrf_in(html),
            "new_password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert done.status_code == 302
    assert guest.get(f"/orgs/{BEATLES}/repos").status_code == 200
    moment.advance(minutes=20)  # 09:20: the role has expired (the session has not)
    assert guest.get(f"/orgs/{BEATLES}/repos").status_code == 404
    assert role_of(db, "contractor@example.com", BEATLES) == "MEMBER"  # kept, marked


def test_invitations_refuse_a_role_expiry_in_the_past(app: Flask, db: Session) -> None:
    app.config["CLOCK"] = Clock()
    client = owner(app)
    before = snapshot(db)
    token = csrf_token(client, "/orgs")
    response = client.post(
        f"/orgs/{BEATLES}/roles",
        data={
            "user_email": "late@example.com",
            "name": "MEMBER",
            "expires": "2025-12-31",
            "csrf_token": token,
        },
    )
    assert response.status_code == 422
    assert "has passed" in response.get_data(as_text=True)
    assert snapshot(db) == before


def test_invitations_a_role_that_expired_before_the_answer_is_not_given(
    app: Flask, db: Session
) -> None:
    # why: accepting a role whose end has passed would add a role that grants
    # nothing; the person is told, and nothing changes
    moment = Clock()
    app.config["CLOCK"] = moment
    client = owner(app)
    token = csrf_token(client, "/orgs")
    client.post(
        f"/orgs/{BEATLES}/roles",
        data={
            "user_email": demo.ADMIN,
            "name": "MEMBER",
            "expires": "2026-01-02",
            "csrf_token": token,
        },
    )
    path = last_mail(db, demo.ADMIN).path
    moment.advance(days=2)  # the link still works (7 days); the role has ended
    admin = app.test_client()
    assert AuthActions(admin).login(demo.ADMIN).status_code == 302
    answer = post_form(admin, path)
    assert answer.status_code == 422
    assert "has passed" in answer.get_data(as_text=True)
    assert role_of(db, demo.ADMIN, BEATLES) is None
