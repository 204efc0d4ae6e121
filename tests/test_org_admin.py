"""Creating, renaming, re-addressing and deleting organizations (issue 18, part 1),
through the HTTP test client as a person or a script uses them."""

from __future__ import annotations

import html
import logging
import threading
from collections.abc import Callable
from functools import partial

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal.domain import demo, org_admin, roles
from portal.domain.models import (
    AuditEntry,
    Organization,
    OrganizationRole,
    Repository,
)
from portal.infra import db as portal_db
from tests.conftest import client_for, csrf_token
from tests.database import committed_scalar, snapshot

BEATLES = demo.BEATLES_ID
JSON = {"Accept": "application/json"}


def _post(client: FlaskClient, url: str, **data: str) -> TestResponse:
    """POST the form data to url with the session's CSRF token."""
    return client.post(url, data={"csrf_token": csrf_token(client, "/orgs"), **data})


def _post_json(client: FlaskClient, url: str, body: object) -> TestResponse:
    """POST body as JSON to url, the CSRF token in its header."""
    token = client.get("/orgs", headers=JSON).get_json()["csrf_token"]
    return client.post(url, json=body, headers={**JSON, "X-CSRFToken": token})


def _org_named(app: Flask, name: str) -> tuple[int, str, str] | None:
    """(id, name, billing address) of the organization named name, committed."""
    with Session(app.extensions["portal.engine"]) as session:
        row = session.execute(
            select(
                Organization.id, Organization.name, Organization.billing_address
            ).where(Organization.name == name)
        ).first()
        return None if row is None else (row[0], row[1], row[2])


def _audit(app: Flask, org_id: int) -> list[tuple[str, str | None, str | None]]:
    """(action, old_value, new_value) of org_id's audit entries, oldest first."""
    with Session(app.extensions["portal.engine"]) as session:
        rows = session.execute(
            select(AuditEntry.action, AuditEntry.old_value, AuditEntry.new_value)
            .where(AuditEntry.organization_id == org_id)
            .order_by(AuditEntry.id)
        )
        return [(a, o, n) for a, o, n in rows]


def _left_of(app: Flask, org_id: int) -> list[int]:
    """How many rows of org_id are left: the organization, its repositories, its
    role rows and its audit entries (committed)."""
    engine = app.extensions["portal.engine"]
    return [
        committed_scalar(engine, select(func.count()).where(column == org_id))
        for column in (
            Organization.id,
            Repository.organization_id,
            OrganizationRole.organization_id,
            AuditEntry.organization_id,
        )
    ]


# --- creating ----------------------------------------------------------------------


def test_create_organization_makes_the_creator_its_owner(app: Flask) -> None:
    client = client_for(app, "no_role")
    form = client.get("/orgs/new")
    assert form.status_code == 200
    assert 'action="/orgs"' in form.get_data(as_text=True)
    response = _post(client, "/orgs", name="  The Rolling Stones  ")
    found = _org_named(app, "The Rolling Stones")  # trimmed
    assert found is not None
    org_id = found[0]
    assert response.status_code == 302
    assert response.location == f"/orgs/{org_id}"
    page = client.get(response.location).get_data(as_text=True)
    assert "Created The Rolling Stones. You are its owner." in page
    role = committed_scalar(
        app.extensions["portal.engine"],
        select(OrganizationRole.name).where(OrganizationRole.organization_id == org_id),
    )
    assert role == "OWNER"
    assert _audit(app, org_id) == [("create", None, "The Rolling Stones")]
    # The new owner has the owner's pages at once.
    assert client.get(f"/orgs/{org_id}/audit").status_code == 200
    assert client.get(f"/orgs/{org_id}/settings").status_code == 200


def test_create_organization_in_json(app: Flask) -> None:
    client = client_for(app, "member")
    response = _post_json(client, "/orgs", {"name": "Wings"})
    assert response.status_code == 200, response.get_json()
    found = _org_named(app, "Wings")
    assert found is not None
    assert response.get_json()["location"] == f"/orgs/{found[0]}"


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("", 422, "Enter a name for the organization."),
        ("   ", 422, "Enter a name for the organization."),
        ("x" * 101, 422, "Use at most 100 characters for the name (101 given)."),
        ("x" * 10_000, 422, "Use at most 100 characters for the name (10,000 given)."),
        ("tab\tname", 422, "Remove the control characters from the name."),
        ("The Beatles", 409, "There is already an organization named 'The Beatles'"),
        ("the BEATLES ", 409, "There is already an organization named 'the BEATLES'"),
        ("MONSTERS INC.", 409, "There is already an organization named"),
    ],
    ids=["empty", "blank", "101", "10000", "control", "taken", "case", "other-case"],
)
def test_create_organization_refuses_a_bad_name(
    app: Flask, name: str, status: int, message: str
) -> None:
    client = client_for(app, "owner")
    before = snapshot(app.extensions["portal.engine"])
    response = _post(client, "/orgs", name=name)
    assert response.status_code == status
    assert message in html.unescape(response.get_data(as_text=True))
    as_json = _post_json(client, "/orgs", {"name": name})
    assert as_json.status_code == status
    assert message in as_json.get_json()["errors"]["name"][0]
    assert snapshot(app.extensions["portal.engine"]) == before


def test_create_organization_refuses_a_missing_or_non_string_name(app: Flask) -> None:
    client = client_for(app, "owner")
    before = snapshot(app.extensions["portal.engine"])
    assert _post_json(client, "/orgs", {}).status_code == 422
    assert _post_json(client, "/orgs", {"name": 5}).status_code == 422
    assert _post_json(client, "/orgs", {"nom": "x"}).status_code == 422
    assert snapshot(app.extensions["portal.engine"]) == before


def test_names_are_unique_in_the_database_whatever_the_case(app: Flask) -> None:
    # why: the check before the insert is only the message; a concurrent creation
    # (or any code that inserts) meets the unique name_key
    with Session(app.extensions["portal.engine"]) as session:
        session.add(Organization(name="THE BEATLES", billing_address=""))
        with pytest.raises(IntegrityError):
            session.flush()


def test_create_organization_race_is_a_409_not_a_500(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # why: two creations of one name at once both pass the check; the second's
    # insert meets the constraint, which must come back as the same refusal
    monkeypatch.setattr(org_admin, "name_holder", lambda *_: None)
    client = client_for(app, "owner")
    before = snapshot(app.extensions["portal.engine"])
    response = _post(client, "/orgs", name="the beatles")
    assert response.status_code == 409
    assert "There is already an organization named" in response.get_data(as_text=True)
    assert snapshot(app.extensions["portal.engine"]) == before


def test_organization_list_links_to_creating_one(app: Flask) -> None:
    page = client_for(app, "no_role").get("/orgs").get_data(as_text=True)
    assert 'href="/orgs/new"' in page


# --- settings ----------------------------------------------------------------------


def test_settings_show_each_form_to_whoever_may_use_it(app: Flask) -> None:
    owner = client_for(app, "owner").get("/orgs/1/settings").get_data(as_text=True)
    assert "Rename" in owner and "Save billing address" in owner
    assert 'href="/orgs/1/delete"' in owner
    billing = client_for(app, "billing").get("/orgs/1/settings")
    page = billing.get_data(as_text=True)
    assert billing.status_code == 200
    assert "Save billing address" in page and "64 Penny Ln" in page
    assert "Rename" not in page and "/orgs/1/delete" not in page
    # The tab: shown to the owner and the billing manager, not to a member.
    assert 'href="/orgs/1/settings"' in page
    member = client_for(app, "member").get("/orgs/1").get_data(as_text=True)
    assert 'href="/orgs/1/settings"' not in member
    assert client_for(app, "member").get("/orgs/1/settings").status_code == 403


def test_settings_json_says_what_the_viewer_may_change(app: Flask) -> None:
    body = client_for(app, "billing").get("/orgs/1/settings", headers=JSON).get_json()
    assert body["organization"] == {"id": 1, "name": "The Beatles"}
    assert body["billing_address"] == "64 Penny Ln Liverpool, UK"
    assert (body["may_rename"], body["may_change_billing_address"]) == (False, True)
    assert body["may_delete"] is False
    assert body["form"] == {
        "current_name": "The Beatles",
        "current_billing_address": "64 Penny Ln Liverpool, UK",
        "current_base_repository_role": None,  # not theirs to change
    }


def test_rename_is_audited_and_shown_in_words(app: Flask) -> None:
    client = client_for(app, "owner")
    response = _post(client, "/orgs/1/settings", name="The Fab Four")
    assert response.status_code == 302
    assert response.location == "/orgs/1/settings"
    page = client.get(response.location).get_data(as_text=True)
    assert "Renamed The Beatles to The Fab Four." in page
    assert _org_named(app, "The Fab Four") is not None
    assert _audit(app, BEATLES)[-1] == ("rename", "The Beatles", "The Fab Four")
    audit = client.get("/orgs/1/audit").get_data(as_text=True)
    assert "renamed the organization from The Beatles to The Fab Four" in audit
    entry = client.get("/orgs/1/audit", headers=JSON).get_json()["entries"][0]
    assert entry["action"] == "rename"
    assert (entry["old_value"], entry["new_value"]) == ("The Beatles", "The Fab Four")


def test_rename_may_change_only_the_case(app: Flask) -> None:
    client = client_for(app, "owner")
    assert _post(client, "/orgs/1/settings", name="THE BEATLES").status_code == 302
    assert _org_named(app, "THE BEATLES") is not None


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("", 422, "Enter a name for the organization."),
        ("x" * 10_000, 422, "Use at most 100 characters"),
        ("monsters inc.", 409, "There is already an organization named"),
        ("The Beatles", 422, "The organization is already named 'The Beatles'."),
    ],
    ids=["empty", "10000", "taken", "same"],
)
def test_rename_refuses_a_bad_name(
    app: Flask, name: str, status: int, message: str
) -> None:
    client = client_for(app, "owner")
    before = snapshot(app.extensions["portal.engine"])
    response = _post(client, "/orgs/1/settings", name=name)
    assert response.status_code == status
    assert message in html.unescape(response.get_data(as_text=True))
    assert snapshot(app.extensions["portal.engine"]) == before


def test_billing_manager_changes_the_address_but_cannot_rename(app: Flask) -> None:
    client = client_for(app, "billing")
    before = snapshot(app.extensions["portal.engine"])
    refused = _post(client, "/orgs/1/settings", name="Mine now")
    assert refused.status_code == 403
    both = _post_json(
        client, "/orgs/1/settings", {"name": "Mine now", "billing_address": "x"}
    )
    assert both.status_code == 403
    assert snapshot(app.extensions["portal.engine"]) == before
    address = "3 Savile Row\r\nLondon  \r\n"
    response = _post(client, "/orgs/1/settings", billing_address=address)
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "The billing address was changed." in page
    assert _org_named(app, "The Beatles") == (1, "The Beatles", "3 Savile Row\nLondon")
    assert _audit(app, BEATLES)[-1] == ("billing_address", None, None)
    audit = client_for(app, "owner").get("/orgs/1/audit").get_data(as_text=True)
    assert "george@beatles.com" in audit and "changed the billing address" in audit


def test_billing_address_may_be_emptied_but_not_too_long(app: Flask) -> None:
    client = client_for(app, "owner")
    before = snapshot(app.extensions["portal.engine"])
    long = _post(client, "/orgs/1/settings", billing_address="x" * 501)
    assert long.status_code == 422
    assert "Use at most 500 characters" in long.get_data(as_text=True)
    control = _post(client, "/orgs/1/settings", billing_address="a\x1bb")
    assert control.status_code == 422
    assert snapshot(app.extensions["portal.engine"]) == before
    assert _post(client, "/orgs/1/settings", billing_address="").status_code == 302
    assert _org_named(app, "The Beatles") == (1, "The Beatles", "")


def test_a_stale_rename_is_refused_and_shows_the_name_now(app: Flask) -> None:
    # why: two owners rename at once: the second, rendered before the first
    # rename, would silently undo it
    client = client_for(app, "owner")
    assert _post(client, "/orgs/1/settings", name="The Fab Four").status_code == 302
    before = snapshot(app.extensions["portal.engine"])
    stale = _post(
        client, "/orgs/1/settings", name="The Quarrymen", current_name="The Beatles"
    )
    assert stale.status_code == 409
    page = html.unescape(stale.get_data(as_text=True))
    assert (
        "The organization was renamed to The Fab Four while you were looking." in page
    )
    assert 'name="current_name" value="The Fab Four"' in page  # sending again works
    assert snapshot(app.extensions["portal.engine"]) == before
    again = _post(
        client, "/orgs/1/settings", name="The Quarrymen", current_name="The Fab Four"
    )
    assert again.status_code == 302


def test_a_stale_billing_address_is_refused(app: Flask) -> None:
    george, john = client_for(app, "billing"), client_for(app, "owner")
    shown = "64 Penny Ln Liverpool, UK"
    # The same address sent back with browser line ends is not stale.
    fine = _post(
        george,
        "/orgs/1/settings",
        billing_address="1 Abbey Rd\r\nLondon",
        current_billing_address=shown,
    )
    assert fine.status_code == 302
    before = snapshot(app.extensions["portal.engine"])
    stale = _post_json(
        john,
        "/orgs/1/settings",
        {"billing_address": "2 Abbey Rd", "current_billing_address": shown},
    )
    assert stale.status_code == 409
    assert "changed while you were looking" in stale.get_json()["message"]
    assert snapshot(app.extensions["portal.engine"]) == before
    current = "1 Abbey Rd\r\nLondon"
    again = _post(
        john,
        "/orgs/1/settings",
        billing_address="2 Abbey Rd",
        current_billing_address=current,
    )
    assert again.status_code == 302


def test_settings_post_without_a_field_is_refused(app: Flask) -> None:
    client = client_for(app, "owner")
    before = snapshot(app.extensions["portal.engine"])
    response = _post_json(client, "/orgs/1/settings", {})
    assert response.status_code == 422
    assert (
        "Send a new name, a billing address or a base repository role (or several)."
        in response.get_json()["message"]
    )
    assert snapshot(app.extensions["portal.engine"]) == before


# --- deleting ----------------------------------------------------------------------


def test_delete_page_lists_what_goes(app: Flask) -> None:
    client = client_for(app, "owner")
    page = client.get("/orgs/1/delete").get_data(as_text=True)
    assert "Delete The Beatles?" in page
    assert "1 repository" in page and "the roles of 4 people" in page
    assert "0 audit log entries" in page
    body = client.get("/orgs/1/delete", headers=JSON).get_json()
    assert body["deletes"] == {"repositories": 1, "members": 4, "audit_entries": 0}
    assert body["confirm"] == {
        "url": "/orgs/1/delete",
        "body": {"confirm_name": "The Beatles"},
    }


@pytest.mark.parametrize("typed", ["", "the beatles", "The Beatle", "Monsters Inc."])
def test_delete_refuses_the_wrong_typed_name(app: Flask, typed: str) -> None:
    client = client_for(app, "owner")
    before = snapshot(app.extensions["portal.engine"])
    response = _post(client, "/orgs/1/delete", confirm_name=typed)
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert "That is not the organization's name." in page
    assert snapshot(app.extensions["portal.engine"]) == before


def test_delete_takes_everything_with_it_and_logs_it(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(app, "owner")
    _post(client, "/orgs/1/settings", name="The Fab Four")  # an audit entry
    with caplog.at_level(logging.INFO, logger="portal"):
        response = _post(client, "/orgs/1/delete", confirm_name="The Fab Four")
    assert response.status_code == 302
    assert response.location == "/orgs"
    assert "Deleted The Fab Four." in client.get("/orgs").get_data(as_text=True)
    assert _left_of(app, BEATLES) == [0, 0, 0, 0]
    (line,) = [r for r in caplog.records if "organization deleted" in r.message]
    assert line.name == "portal" and line.levelno == logging.WARNING
    assert line.getMessage() == (
        "organization deleted: org=1 name='The Fab Four' actor=1"
        " repositories=1 members=4 audit_entries=1"
    )
    # Deleting what is already gone: 404, for the page and the form.
    assert client.get("/orgs/1/delete").status_code == 404
    gone = _post(client, "/orgs/1/delete", confirm_name="The Fab Four")
    assert gone.status_code == 404


def test_delete_in_json(app: Flask) -> None:
    client = client_for(app, "other_owner")
    response = _post_json(client, "/orgs/2/delete", {"confirm_name": "Monsters Inc."})
    assert response.status_code == 200
    assert response.get_json()["location"] == "/orgs"
    assert _org_named(app, "Monsters Inc.") is None
    again = _post_json(client, "/orgs/2/delete", {"confirm_name": "Monsters Inc."})
    assert again.status_code == 404


def test_delete_of_an_organization_deleted_meanwhile_is_a_404(app: Flask) -> None:
    # why: the domain's own guard, for a caller that did not lock it first
    with app.test_request_context():
        session = portal_db.get_session()
        with portal_db.transaction(session):
            org_admin.delete_organization(session, 2, "Monsters Inc.", actor=None)
        with pytest.raises(org_admin.OrganizationGone) as error:
            org_admin.delete_organization(session, 2, "Monsters Inc.", actor=None)
        assert error.value.status == 404


def test_billing_page_links_to_changing_the_address(app: Flask) -> None:
    for actor in ("owner", "billing"):
        page = client_for(app, actor).get("/orgs/1/billing").get_data(as_text=True)
        assert '<a href="/orgs/1/settings">Change the billing address</a>' in page


# --- races -------------------------------------------------------------------------


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


def test_race_two_creations_of_one_name(app: Flask) -> None:
    # why: both pass the check before the insert; one must win and the other get
    # the same 409 as a duplicate, never a 500
    for round_ in range(5):
        name = f"Race {round_}"
        clients = [client_for(app, actor) for actor in ("owner", "member")]
        tokens = [csrf_token(client, "/orgs") for client in clients]
        statuses = _at_once(
            *(
                partial(
                    client.post,
                    "/orgs",
                    data={"csrf_token": token, "name": spelled},
                )
                for client, token, spelled in zip(
                    clients, tokens, (name, name.upper()), strict=True
                )
            )
        )
        assert sorted(statuses) == [302, 409], statuses
        created = committed_scalar(
            app.extensions["portal.engine"],
            select(func.count()).where(Organization.name_key == name.casefold()),
        )
        assert created == 1


def test_race_deleting_while_renaming_and_assigning(app: Flask) -> None:
    # why: a change that waited for the deletion's lock finds the organization
    # gone: 404, no orphan row, never a 500
    owner = client_for(app, "owner")
    token = csrf_token(owner, "/orgs")
    statuses = _at_once(
        partial(
            owner.post,
            "/orgs/1/delete",
            data={"csrf_token": token, "confirm_name": "The Beatles"},
        ),
        partial(
            owner.post,
            "/orgs/1/settings",
            data={"csrf_token": token, "name": "The Fab Four"},
        ),
        partial(
            owner.post,
            "/orgs/1/roles",
            data={"csrf_token": token, "user_email": demo.ADMIN, "name": "MEMBER"},
        ),
    )
    assert statuses[1] in (302, 404) and statuses[2] in (302, 404), statuses
    if statuses[0] == 302:
        assert _left_of(app, BEATLES) == [0, 0, 0, 0]
    else:  # the rename came first: the typed name no longer matched
        assert statuses[0] == 422 and statuses[1] == 302


# --- changed or deleted between the page's load and the change's lock ------------


@pytest.mark.parametrize(
    ("field", "sent", "message"),
    [
        (
            "name",
            {"name": "The Quarrymen", "current_name": "The Beatles"},
            "The organization was renamed to The Fab Four while you were looking.",
        ),
        (
            "billing_address",
            {
                "billing_address": "Abbey Road",
                "current_billing_address": "64 Penny Ln Liverpool, UK",
            },
            "The billing address was changed while you were looking",
        ),
    ],
)
def test_settings_changed_between_the_check_and_the_lock_are_refused(
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
    field: str,
    sent: dict[str, str],
    message: str,
) -> None:
    # why: the form's "current" values were compared with the row as loaded, not
    # as locked: two renames racing on PostgreSQL both passed, the second
    # silently undoing the first. The lock's fresh read is what is compared now
    # (a change committed by another request just before it is simulated here).
    locked = roles.lock_organization  # what org_admin imported

    def lock_after_a_change(session: Session, org_id: int) -> Organization | None:
        organization = locked(session, org_id)
        assert organization is not None
        organization.name, organization.billing_address = "The Fab Four", "Elsewhere"
        return organization

    monkeypatch.setattr(org_admin, "lock_organization", lock_after_a_change)
    client = client_for(app, "owner")
    before = snapshot(app.extensions["portal.engine"])
    response = _post(client, "/orgs/1/settings", **sent)
    assert response.status_code == 409
    assert message in html.unescape(response.get_data(as_text=True))
    assert snapshot(app.extensions["portal.engine"]) == before


def test_overview_says_settings_changes_in_words(app: Flask) -> None:
    # why: the overview's latest changes knew only role actions: a new
    # organization's first entry read "owner@… left (was None)"
    client = client_for(app, "owner")
    created = _post(client, "/orgs", name="The Rutles")
    assert created.status_code == 302
    made = _org_named(app, "The Rutles")
    assert made is not None
    _post(client, f"/orgs/{made[0]}/settings", name="The Rutles Ltd")
    page = html.unescape(client.get(f"/orgs/{made[0]}").get_data(as_text=True))
    assert "created the organization as The Rutles" in page
    assert "renamed the organization from The Rutles to The Rutles Ltd" in page
    assert "None" not in page
