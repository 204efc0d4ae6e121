"""The base repository role on the settings page (issue 18): what every MEMBER
gets on each repository of the organization, changed by its owners, through the
HTTP test client as a person or a script uses it; and what members then see on
the repositories pages, at once, with the caches warm."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from portal.authz import get_oso
from portal.domain import demo
from portal.domain.models import AuditEntry, Organization
from tests.conftest import client_for, csrf_token
from tests.database import committed, committed_scalar, snapshot

BEATLES = demo.BEATLES_ID
SETTINGS = f"/orgs/{BEATLES}/settings"
JSON = {"Accept": "application/json"}


def _post(client: FlaskClient, **data: str) -> TestResponse:
    """POST the settings form data with the session's CSRF token."""
    token = csrf_token(client, "/orgs")
    return client.post(SETTINGS, data={"csrf_token": token, **data})


def _post_json(client: FlaskClient, body: object) -> TestResponse:
    """POST body as JSON to the settings, the CSRF token in its header."""
    token = client.get("/orgs", headers=JSON).get_json()["csrf_token"]
    return client.post(SETTINGS, json=body, headers={**JSON, "X-CSRFToken": token})


def _base_role(app: Flask) -> str | None:
    """The Beatles' base repository role, as committed."""
    return committed_scalar(
        app.extensions["portal.engine"],
        select(Organization.base_repository_role).where(Organization.id == BEATLES),
    )


def _audit(app: Flask) -> list[tuple[str, str | None, str | None, str | None]]:
    """(action, actor, old_value, new_value) of The Beatles' audit entries."""
    statement = (
        select(
            AuditEntry.action,
            AuditEntry.actor_email,
            AuditEntry.old_value,
            AuditEntry.new_value,
        )
        .where(AuditEntry.organization_id == BEATLES)
        .order_by(AuditEntry.id)
    )
    with committed(app.extensions["portal.engine"]) as connection:
        return [(a, b, c, d) for a, b, c, d in connection.execute(statement)]


def _repos(client: FlaskClient, path: str) -> list[str]:
    """The names of the repositories a JSON list at path shows."""
    response = client.get(path, headers=JSON)
    assert response.status_code == 200, response.get_json()
    return [repo["name"] for repo in response.get_json()["repos"]]


def _my_roles(client: FlaskClient) -> dict[str, str | None]:
    """/repos in JSON: repository name -> the viewer's role code there."""
    body = client.get("/repos", headers=JSON).get_json()
    return {repo["name"]: repo["role"] for repo in body["repos"]}


# --- the page ------------------------------------------------------------------


def test_base_role_section_is_shown_to_owners_with_the_role_chosen(
    app: Flask,
) -> None:
    page = client_for(app, "owner").get(SETTINGS).get_data(as_text=True)
    assert "Base repository role" in page
    assert 'name="current_base_repository_role" value="READER"' in page
    assert 'value="READER" aria-describedby="base_repository_role-reader-hint" checked'
    for label in ("No access", "Reader", "Writer", "Admin"):
        assert f">{label}" in page
    assert 'Reader <span class="role-current">(current)</span>' in page
    assert "Save base role" in page


def test_base_role_section_is_not_shown_to_a_billing_manager(app: Flask) -> None:
    page = client_for(app, "billing").get(SETTINGS).get_data(as_text=True)
    assert "Save billing address" in page  # the page itself is theirs
    assert "Base repository role" not in page
    assert "base_repository_role" not in page


def test_settings_json_shows_the_base_role_code(app: Flask) -> None:
    owner = client_for(app, "owner").get(SETTINGS, headers=JSON).get_json()
    assert owner["base_repository_role"] == "READER"
    assert owner["may_change_base_repository_role"] is True
    assert owner["form"]["current_base_repository_role"] == "READER"
    billing = client_for(app, "billing").get(SETTINGS, headers=JSON).get_json()
    assert billing["base_repository_role"] is None
    assert billing["may_change_base_repository_role"] is False
    assert billing["form"]["current_base_repository_role"] is None


# --- changing it ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored", "flash"),
    [
        (
            "WRITER",
            "WRITER",
            "Every Member of The Beatles is now a Writer on each of its repositories.",
        ),
        (
            "ADMIN",
            "ADMIN",
            "Every Member of The Beatles is now an Admin on each of its repositories.",
        ),
        (
            "NONE",
            None,
            "Every Member of The Beatles no longer gets any role on its repositories;"
            " they see only those granted to them.",
        ),
    ],
    ids=["writer", "admin", "none"],
)
def test_owner_changes_the_base_role_audited_and_said_in_words(
    app: Flask, value: str, stored: str | None, flash: str
) -> None:
    client = client_for(app, "owner")
    response = _post(
        client, base_repository_role=value, current_base_repository_role="READER"
    )
    assert response.status_code == 302
    assert response.location == SETTINGS
    page = html.unescape(client.get(response.location).get_data(as_text=True))
    assert flash in page
    assert f'name="current_base_repository_role" value="{value}"' in page
    assert _base_role(app) == stored
    assert _audit(app)[-1] == ("base_repository_role", demo.JOHN, "READER", stored)


def test_base_role_in_json_round_trips(app: Flask) -> None:
    client = client_for(app, "owner")
    response = _post_json(
        client,
        {"base_repository_role": "NONE", "current_base_repository_role": "READER"},
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["location"] == SETTINGS
    assert "no longer gets any role" in response.get_json()["message"]
    body = client.get(SETTINGS, headers=JSON).get_json()
    assert body["base_repository_role"] is None
    assert body["form"]["current_base_repository_role"] == "NONE"
    back = _post_json(
        client,
        {
            "base_repository_role": "READER",
            "current_base_repository_role": body["form"][
                "current_base_repository_role"
            ],
        },
    )
    assert back.status_code == 200
    assert _base_role(app) == "READER"
    assert [entry[2:] for entry in _audit(app)] == [("READER", None), (None, "READER")]


def _page_text(client: FlaskClient, url: str) -> str:
    """The page at url as a reader sees its text (tags removed, spaces joined)."""
    html = client.get(url).get_data(as_text=True)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_base_role_change_is_worded_on_the_audit_log_and_overview(app: Flask) -> None:
    client = client_for(app, "owner")
    assert _post(client, base_repository_role="WRITER").status_code == 302
    audit = _page_text(client, "/orgs/1/audit")
    assert "changed the base repository role from Reader to Writer" in audit
    overview = _page_text(client, "/orgs/1")
    assert "changed the base repository role from Reader to Writer" in overview
    assert _post(client, base_repository_role="NONE").status_code == 302
    audit = _page_text(client, "/orgs/1/audit")
    assert "changed the base repository role from Writer to No access" in audit


# --- refusals ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "json", "message"),
    [
        ("OWNER", False, "Choose one of No access, Reader, Writer or Admin."),
        ("reader", False, "Choose one of No access, Reader, Writer or Admin."),
        ("", False, "Choose one of No access, Reader, Writer or Admin."),
        ("x" * 10_000, False, "Choose one of No access, Reader, Writer or Admin."),
        (
            "READ",
            True,
            "Choose one of ADMIN, WRITER, READER, NONE (NONE: no role).",
        ),
    ],
    ids=["org-role", "lower-case", "empty", "10000", "json-permission"],
)
def test_unknown_base_role_is_a_422_that_says_the_choices(
    app: Flask, value: str, json: bool, message: str
) -> None:
    client = client_for(app, "owner")
    before = snapshot(app.extensions["portal.engine"])
    if json:
        response = _post_json(client, {"base_repository_role": value})
        assert response.status_code == 422
        assert response.get_json()["errors"]["base_repository_role"] == [message]
    else:
        response = _post(client, base_repository_role=value)
        assert response.status_code == 422
        assert message in response.get_data(as_text=True)
    assert snapshot(app.extensions["portal.engine"]) == before


def test_base_role_that_is_not_a_string_is_a_422(app: Flask) -> None:
    client = client_for(app, "owner")
    before = snapshot(app.extensions["portal.engine"])
    response = _post_json(client, {"base_repository_role": None})
    assert response.status_code == 422
    assert response.get_json()["errors"]["base_repository_role"] == [
        "Send this as a JSON string."
    ]
    assert snapshot(app.extensions["portal.engine"]) == before


def test_the_same_base_role_again_is_refused(app: Flask) -> None:
    client = client_for(app, "owner")
    before = snapshot(app.extensions["portal.engine"])
    response = _post(client, base_repository_role="READER")
    assert response.status_code == 422
    assert "Every member already gets that role" in html.unescape(
        response.get_data(as_text=True)
    )
    assert snapshot(app.extensions["portal.engine"]) == before


def test_a_stale_base_role_form_is_a_409_showing_the_role_now(app: Flask) -> None:
    # why: two owners at once: the second, drawn before the first change, would
    # silently undo it
    client = client_for(app, "owner")
    assert _post(client, base_repository_role="WRITER").status_code == 302
    before = snapshot(app.extensions["portal.engine"])
    stale = _post(
        client, base_repository_role="NONE", current_base_repository_role="READER"
    )
    assert stale.status_code == 409
    page = html.unescape(stale.get_data(as_text=True))
    assert "The base repository role was changed while you were looking" in page
    assert 'name="current_base_repository_role" value="WRITER"' in page
    assert snapshot(app.extensions["portal.engine"]) == before
    stale_json = _post_json(
        client,
        {"base_repository_role": "NONE", "current_base_repository_role": "READER"},
    )
    assert stale_json.status_code == 409
    again = _post(
        client, base_repository_role="NONE", current_base_repository_role="WRITER"
    )
    assert again.status_code == 302
    assert _base_role(app) is None


def test_a_forged_current_base_role_is_refused(app: Flask) -> None:
    client = client_for(app, "owner")
    before = snapshot(app.extensions["portal.engine"])
    response = _post(
        client, base_repository_role="WRITER", current_base_repository_role="OWNER"
    )
    assert response.status_code == 422
    assert snapshot(app.extensions["portal.engine"]) == before


@pytest.mark.parametrize("actor", ["member", "billing"])
def test_member_and_billing_manager_may_not_change_the_base_role(
    app: Flask, actor: str
) -> None:
    client = client_for(app, actor)
    before = snapshot(app.extensions["portal.engine"])
    assert _post(client, base_repository_role="ADMIN").status_code == 403
    both = _post_json(
        client, {"billing_address": "1 Abbey Rd", "base_repository_role": "ADMIN"}
    )
    assert both.status_code == 403
    assert snapshot(app.extensions["portal.engine"]) == before


@pytest.mark.parametrize("actor", ["no_role", "other_owner"])
def test_outsiders_get_404_for_the_base_role(app: Flask, actor: str) -> None:
    client = client_for(app, actor)
    before = snapshot(app.extensions["portal.engine"])
    assert _post(client, base_repository_role="ADMIN").status_code == 404
    assert snapshot(app.extensions["portal.engine"]) == before


# --- what members see, at once, with the caches warm ---------------------------


def test_base_role_changes_what_a_member_sees_at_once(app: Flask) -> None:
    # why: the decision cache and the list filter cache are warm from the first
    # round; the base role is in the decision's key and the filter joins it in
    # SQL, so neither may answer with what a member saw before the change.
    owner, member = client_for(app, "owner"), client_for(app, "member")
    billing = client_for(app, "billing")
    seen: dict[str, tuple[list[str], dict[str, str | None]]] = {}
    for value in ("READER", "WRITER", "ADMIN", "NONE", "READER"):
        if value != "READER" or seen:
            assert _post(owner, base_repository_role=value).status_code == 302
        seen[value] = (_repos(member, "/orgs/1/repos"), _my_roles(member))
        expected_role = None if value == "NONE" else value
        if expected_role is None:
            # Paul sees none of The Beatles' repositories, and they are not his.
            assert seen[value] == ([], {})
        else:
            assert seen[value] == (["Abbey Road"], {"Abbey Road": expected_role})
        # Owners are Admins whatever the base role; billing managers get nothing.
        assert _repos(owner, "/orgs/1/repos") == ["Abbey Road"]
        assert _my_roles(owner) == {"Abbey Road": "ADMIN"}
        assert _my_roles(billing) == {}
        assert client_for(app, "member").get("/orgs/1/repos").status_code == 200
        assert billing.get("/orgs/1/repos").status_code == 403


def test_a_warm_decision_for_the_old_base_role_is_not_served(app: Flask) -> None:
    # why: Paul's answer for Abbey Road under READER is cached; after the change
    # the same question must miss (the base role is in the key), and asking
    # again under READER must hit the cache with the READER answer
    owner, member = client_for(app, "owner"), client_for(app, "member")
    oso = get_oso(app)
    assert _my_roles(member) == {"Abbey Road": "READER"}  # cached now
    assert _post(owner, base_repository_role="WRITER").status_code == 302
    queries = oso.queries
    assert _my_roles(member) == {"Abbey Road": "WRITER"}
    assert oso.queries > queries, "the READER answer was not reused"
    assert _post(owner, base_repository_role="READER").status_code == 302
    queries, hits = oso.queries, oso.cache_hits
    assert _my_roles(member) == {"Abbey Road": "READER"}
    assert (oso.queries, oso.cache_hits > hits) == (queries, True)


def test_base_role_none_leaves_a_direct_grant(app: Flask) -> None:
    # why: Ringo holds Writer on Abbey Road directly; taking the base role away
    # from every member leaves him that, and Paul nothing
    owner = client_for(app, "owner")
    writer, member = client_for(app, "repo_writer"), client_for(app, "member")
    assert _my_roles(writer) == {"Abbey Road": "WRITER"}  # warm
    assert _post(owner, base_repository_role="NONE").status_code == 302
    assert _my_roles(writer) == {"Abbey Road": "WRITER"}
    assert _repos(writer, "/orgs/1/repos") == ["Abbey Road"]
    assert _my_roles(member) == {}
    assert _post(owner, base_repository_role="ADMIN").status_code == 302
    assert _my_roles(writer) == {"Abbey Road": "ADMIN"}  # the stronger one


def test_base_role_change_shows_on_the_member_pages_in_words(app: Flask) -> None:
    owner, member = client_for(app, "owner"), client_for(app, "member")
    assert "Reader" in member.get("/repos").get_data(as_text=True)  # warm
    assert _post(owner, base_repository_role="WRITER").status_code == 302
    page = member.get("/repos").get_data(as_text=True)
    assert 'repo-role-writer">Writer<' in page
    assert _post(owner, base_repository_role="NONE").status_code == 302
    assert _repos(member, "/orgs/1/repos") == []
    mine = member.get("/repos").get_data(as_text=True)
    assert "You cannot open any repository yet." in mine
