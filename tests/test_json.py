"""JSON on the same routes: content negotiation, the shapes, writes, bad input.

Every request goes through the HTTP door a client uses (the test client with
Accept / a JSON body / X-CSRFToken). The route x method x actor statuses are the
JSON column of tests/routes.py (tests/test_routes.py); the curl walkthrough runs
against a live server in tests/e2e/test_curl.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from portal.domain import demo
from portal.domain.models import AuditEntry, OrganizationRole, User
from tests.conftest import AuthActions, role_of, roles_snapshot
from tests.database import committed_scalar
from tests.factories import bulk_repositories

JSON = {"Accept": "application/json"}
RINGO_ID = demo.USERS.index(demo.RINGO) + 1
JOHN_ID = demo.USERS.index(demo.JOHN) + 1


class Api:
    """A JSON client of one session: GET with Accept, writes with a JSON body and
    the session's latest CSRF token in X-CSRFToken."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = ""

    def get(self, path: str, **headers: str) -> TestResponse:
        response = self.client.get(path, headers={**JSON, **headers})
        self._remember(response)
        return response

    def post(self, path: str, body: Any = None, **kwargs: Any) -> TestResponse:
        if not self.token:
            self.get("/orgs")
        headers = {"X-CSRFToken": self.token, **kwargs.pop("headers", {})}
        if "data" not in kwargs:
            kwargs["json"] = body if body is not None else {}
        response = self.client.post(path, headers=headers, **kwargs)
        self._remember(response)
        return response

    def login(self, email: str, password: str = demo.PASSWORD) -> TestResponse:
        return self.post("/login", {"email": email, "password": password})

    def _remember(self, response: TestResponse) -> None:
        if response.is_json and response.json and "csrf_token" in response.json:
            self.token = response.json["csrf_token"]


def guard_of(bind: Any, email: str, org_id: int = demo.BEATLES_ID) -> dict[str, str]:
    """What the member forms carry for email's role in org_id, as committed: the
    role's name and its row's id (what a page rendered now shows)."""
    statement = (
        select(OrganizationRole.id)
        .join(User)
        .where(User.email == email, OrganizationRole.organization_id == org_id)
    )
    role_id = committed_scalar(bind, statement)
    name = role_of(bind, email, org_id)
    assert role_id is not None and name is not None, f"{email} has no role"
    return {"current": name, "current_id": str(role_id)}


def api_for(app: Flask, email: str | None) -> Api:
    api = Api(app.test_client())
    if email is not None:
        assert api.login(email).status_code == 200
    return api


@pytest.fixture
def john(app: Flask) -> Api:
    return api_for(app, demo.JOHN)


def _body(response: TestResponse) -> dict[str, Any]:
    assert response.mimetype == "application/json", response.get_data(as_text=True)
    body = response.json
    assert isinstance(body, dict)
    return {key: value for key, value in body.items() if key != "csrf_token"}


# --- the guide's shapes ---------------------------------------------------------


def test_json_repositories_in_the_guides_shape_with_paging(john: Api) -> None:
    response = john.get("/orgs/1/repos")
    assert response.status_code == 200
    assert _body(response) == {
        "organization": {"id": 1, "name": "The Beatles"},
        "repos": [{"id": 1, "name": "Abbey Road"}],
        "paging": {
            "page": 1,
            "per_page": 50,
            "total": 1,
            "pages": 1,
            "prev": None,
            "next": None,
        },
        "search": {"q": ""},
    }


def test_json_paging_links_keep_the_page_and_lead_on(app: Flask, db: Any) -> None:
    bulk_repositories(db, demo.BEATLES_ID, 120)
    db.commit()
    john = api_for(app, demo.JOHN)
    first = _body(john.get("/orgs/1/repos"))
    assert len(first["repos"]) == 50
    assert first["paging"]["total"] == 121
    assert first["paging"]["pages"] == 3
    assert first["paging"]["prev"] is None
    second = _body(john.get(first["paging"]["next"]))
    assert second["paging"]["page"] == 2
    assert second["paging"]["prev"] == "/orgs/1/repos?page=1"
    assert second["paging"]["next"] == "/orgs/1/repos?page=3"
    assert not {r["id"] for r in first["repos"]} & {r["id"] for r in second["repos"]}
    beyond = john.get("/orgs/1/repos?page=4")
    assert beyond.status_code == 404
    assert _body(beyond)["message"] == "There is no page 4; the list has 3 pages."
    bad = john.get("/orgs/1/repos?page=abc")
    assert bad.status_code == 400
    assert "whole number" in _body(bad)["message"]


def test_json_billing_for_billing_and_403_for_a_member(app: Flask) -> None:
    george = api_for(app, demo.GEORGE)
    assert _body(george.get("/orgs/1/billing")) == {
        "organization": {"id": 1, "name": "The Beatles"},
        "billing_address": "64 Penny Ln Liverpool, UK",
    }
    refused = api_for(app, demo.PAUL).get("/orgs/1/billing")
    assert refused.status_code == 403
    assert _body(refused) == {
        "status": 403,
        "message": "Your role in this organization does not allow this.",
    }


def test_json_404_for_an_organization_one_cannot_read(app: Flask) -> None:
    paul = api_for(app, demo.PAUL)
    for path in ("/orgs/2", "/orgs/2/billing", "/orgs/999999"):
        response = paul.get(path)
        assert response.status_code == 404
        assert _body(response)["status"] == 404


def test_json_organizations_only_those_the_user_can_read(app: Flask) -> None:
    assert _body(api_for(app, demo.MIKE).get("/orgs"))["orgs"] == [
        {"id": 2, "name": "Monsters Inc.", "role": "OWNER"}
    ]
    assert _body(api_for(app, demo.ADMIN).get("/orgs"))["orgs"] == []


@pytest.mark.parametrize(
    ("email", "role", "permissions"),
    [
        (
            demo.JOHN,
            "OWNER",
            [
                "READ",
                "LIST_REPOS",
                "CREATE_REPO",
                "LIST_ROLES",
                "READ_BILLING",
                # the roles table's order: ties as the policy declares them
                "READ_SETTINGS",
                "UPDATE_BILLING",
                "CREATE_ROLE",
                "UPDATE_ROLE",
                "DELETE_ROLE",
                "READ_AUDIT",
                "UPDATE",
                "DELETE",
            ],
        ),
        (demo.PAUL, "MEMBER", ["READ", "LIST_REPOS", "CREATE_REPO", "LIST_ROLES"]),
        (
            demo.GEORGE,
            "BILLING",
            ["READ", "READ_BILLING", "READ_SETTINGS", "UPDATE_BILLING"],
        ),
    ],
)
def test_json_organization_says_the_role_and_what_it_allows(
    app: Flask, email: str, role: str, permissions: list[str]
) -> None:
    body = _body(api_for(app, email).get("/orgs/1"))
    # The overview's pieces: tests/test_overview.py.
    assert {key: body[key] for key in ("organization", "role", "permissions")} == {
        "organization": {"id": 1, "name": "The Beatles"},
        "role": role,
        "permissions": permissions,
    }


def test_json_roles_members_say_what_a_member_may_do_to_each(app: Flask) -> None:
    # why: the page's rows carry controls by these answers; a client gets them too
    body = _body(api_for(app, demo.PAUL).get("/orgs/1/roles"))
    rights = {
        member["user"]["email"]: (member["may_change"], member["may_remove"])
        for member in body["members"]
    }
    assert rights == {
        demo.GEORGE: (False, False),
        demo.JOHN: (False, False),
        demo.PAUL: (False, True),  # leaving
        demo.RINGO: (False, False),
    }


def test_json_roles_members_counts_and_search(john: Api) -> None:
    body = _body(john.get("/orgs/1/roles?q=R&role=MEMBER"))
    assert body["members"] == [
        {
            "user": {"id": RINGO_ID, "email": demo.RINGO},
            "role": "MEMBER",
            # Time-limited roles (issue 19): a role that never expires.
            "expires_at": None,
            "expired": False,
            "url": f"/orgs/1/roles/{RINGO_ID}",
            "may_change": True,
            "may_remove": True,
        }
    ]
    assert body["counts"] == {"OWNER": 1, "MEMBER": 2, "BILLING": 1}
    assert body["search"] == {"q": "R", "role": "MEMBER"}
    bad = john.get("/orgs/1/roles?role=owner")
    assert bad.status_code == 400
    assert _body(bad)["errors"] == {
        "role": ["Choose one of OWNER, MEMBER, BILLING, or all roles."]
    }


def test_json_member_page_explains_access(john: Api) -> None:
    body = _body(john.get(f"/orgs/1/roles/{RINGO_ID}"))
    assert body["member"]["role"] == "MEMBER"
    assert body["yours"] is False
    assert body["may_change"] is True
    assert body["may_remove"] is True
    assert [p["name"] for p in body["permissions"]] == [
        "READ",
        "LIST_REPOS",
        "CREATE_REPO",
        "LIST_ROLES",
    ]
    assert body["permissions"][0] == {
        "name": "READ",
        "reason": "Given to every Member and Billing manager.",
        "granted_to": ["MEMBER", "BILLING"],
        "through": None,
    }
    own = _body(john.get(f"/orgs/1/roles/{JOHN_ID}"))
    assert own["yours"] is True
    assert own["change_refused"] == own["removal_refused"]
    assert "last Owner" in own["removal_refused"]


def test_json_member_page_what_a_member_may_do(app: Flask) -> None:
    body = _body(api_for(app, demo.PAUL).get(f"/orgs/1/roles/{RINGO_ID}"))
    assert (body["may_change"], body["may_remove"]) == (False, False)


# --- writes ---------------------------------------------------------------------


def test_json_assign_role_changes_it_and_says_so(app: Flask, db: Any) -> None:
    # Issue 19: a role changes on the member's page (the roles page's form invites).
    john = api_for(app, demo.JOHN)
    refused = john.post("/orgs/1/roles", {"user_email": demo.RINGO, "name": "BILLING"})
    assert refused.status_code == 409
    assert role_of(db, demo.RINGO, 1) == "MEMBER"
    response = john.post(
        f"/orgs/1/roles/{RINGO_ID}", {"name": "BILLING", **guard_of(db, demo.RINGO)}
    )
    assert response.status_code == 200
    assert _body(response) == {
        "location": f"/orgs/1/roles/{RINGO_ID}",
        "message": "ringo@beatles.com is now a Billing manager. They can now see the"
        " billing details, open the settings and change the billing address; they"
        " can no longer see the repositories, create repositories or see who is here.",
    }
    assert role_of(db, demo.RINGO, 1) == "BILLING"
    entries = _body(john.get("/orgs/1/audit"))["entries"]
    assert [
        (e["actor"], e["user"], e["action"], e["old"], e["new"]) for e in entries
    ] == [(demo.JOHN, demo.RINGO, "change", "MEMBER", "BILLING")]
    assert entries[0]["at"].endswith("+00:00")
    # The flash went into the JSON answer, not into the next page.
    page = john.client.get("/orgs/1/roles").get_data(as_text=True)
    assert "is now a Billing manager" not in page


def test_json_member_refused_a_write(app: Flask, db: Any) -> None:
    before = roles_snapshot(db)
    ringo = api_for(app, demo.RINGO)
    response = ringo.post("/orgs/1/roles", {"user_email": demo.RINGO, "name": "OWNER"})
    assert response.status_code == 403
    assert _body(response)["status"] == 403
    assert roles_snapshot(db) == before


def test_json_change_remove_and_leave_on_the_member_routes(app: Flask, db: Any) -> None:
    john = api_for(app, demo.JOHN)
    shown = guard_of(db, demo.RINGO)
    assert _body(john.get(f"/orgs/1/roles/{RINGO_ID}"))["form"] == shown
    changed = john.post(f"/orgs/1/roles/{RINGO_ID}", {"name": "BILLING", **shown})
    assert changed.status_code == 200
    assert _body(changed)["location"] == f"/orgs/1/roles/{RINGO_ID}"
    stale = john.post(f"/orgs/1/roles/{RINGO_ID}", {"name": "OWNER", **shown})
    assert stale.status_code == 409
    assert _body(stale)["message"] == (
        "ringo@beatles.com was made a Billing manager while you were looking."
        " Check it and try again."
    )
    assert _body(john.get(f"/orgs/1/roles/{RINGO_ID}/delete"))["loses"] == [
        "READ",
        "READ_BILLING",
        "READ_SETTINGS",
        "UPDATE_BILLING",
    ]
    removed = john.post(f"/orgs/1/roles/{RINGO_ID}/delete", guard_of(db, demo.RINGO))
    assert removed.status_code == 200
    assert _body(removed)["message"].startswith(
        "ringo@beatles.com no longer has a role in The Beatles"
    )
    assert role_of(db, demo.RINGO, 1) is None
    paul = api_for(app, demo.PAUL)
    paul_id = demo.USERS.index(demo.PAUL) + 1
    left = paul.post(f"/orgs/1/roles/{paul_id}/delete", guard_of(db, demo.PAUL))
    assert _body(left) == {"location": "/orgs", "message": "You left The Beatles."}
    assert role_of(db, demo.PAUL, 1) is None


def test_json_last_owner_refused_with_the_reason(john: Api, db: Any) -> None:
    before = roles_snapshot(db)
    shown = guard_of(db, demo.JOHN)
    for path, body in [
        (f"/orgs/1/roles/{JOHN_ID}", {"name": "MEMBER", **shown}),
        (f"/orgs/1/roles/{JOHN_ID}/delete", shown),
    ]:
        response = john.post(path, body)
        assert response.status_code == 409, path
        assert "is the last Owner" in _body(response)["message"]
    # The roles page's form changes no role at all (issue 19).
    response = john.post("/orgs/1/roles", {"user_email": demo.JOHN, "name": "MEMBER"})
    assert response.status_code == 409
    assert "is already an Owner here" in _body(response)["message"]
    assert roles_snapshot(db) == before


def test_json_self_demotion_asks_for_confirmation_with_409(app: Flask, db: Any) -> None:
    john = api_for(app, demo.JOHN)
    paul = {"name": "OWNER", **guard_of(db, demo.PAUL)}
    paul_id = demo.USERS.index(demo.PAUL) + 1
    assert john.post(f"/orgs/1/roles/{paul_id}", paul).status_code == 200
    path = f"/orgs/1/roles/{JOHN_ID}"
    shown = guard_of(db, demo.JOHN)
    asked = john.post(path, {"name": "MEMBER", **shown})
    assert asked.status_code == 409
    body = _body(asked)
    assert '"confirm": "yes"' in body["message"]
    assert "UPDATE_ROLE" in body["loses"]
    assert role_of(db, demo.JOHN, 1) == "OWNER"
    done = john.post(path, {"name": "MEMBER", "confirm": "yes", **shown})
    assert done.status_code == 200
    assert role_of(db, demo.JOHN, 1) == "MEMBER"


def test_json_login_rotates_the_csrf_token(app: Flask) -> None:
    api = Api(app.test_client())
    anonymous = api.get("/orgs")
    assert anonymous.status_code == 401
    assert _body(anonymous)["message"].startswith("Log in first")
    old = api.token
    wrong = api.login(demo.JOHN, "not the password")
    assert wrong.status_code == 422
    assert _body(wrong)["message"] == "Wrong email or password."
    assert api.login(demo.JOHN).status_code == 200
    assert api.token and api.token != old
    api.token = old  # the token of the session before the login
    refused = api.post("/orgs/1/roles", {"user_email": demo.RINGO, "name": "BILLING"})
    assert refused.status_code == 400
    assert "X-CSRFToken" in _body(refused)["message"]


def test_json_logout(john: Api) -> None:
    response = john.post("/logout")
    assert _body(response) == {"location": "/login", "message": "You are logged out."}
    assert john.get("/orgs").status_code == 401


def test_json_throttled_login_is_429_with_retry_after(app: Flask) -> None:
    api = Api(app.test_client())
    statuses = [api.login(demo.PAUL, "wrong").status_code for _ in range(12)]
    assert statuses[-1] == 429, statuses
    response = api.login(demo.PAUL)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "Too many failed logins" in _body(response)["message"]


# --- bad input ------------------------------------------------------------------

ASSIGN = "/orgs/1/roles"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"user_email": demo.RINGO, "name": 5},
            {"name": ["Send this as a JSON string."]},
        ),
        (
            {"user_email": {"email": demo.RINGO}, "name": "BILLING"},
            {"user_email": ["Send this as a JSON string."]},
        ),
        (
            {"user_email": [demo.RINGO], "name": ["BILLING"]},
            {
                "user_email": ["Send this as a JSON string."],
                "name": ["Send this as a JSON string."],
            },
        ),
        (
            {"user_email": demo.RINGO, "name": None},
            {"name": ["Send this as a JSON string."]},
        ),
        (
            {"user_email": demo.RINGO},
            {"name": ["Choose one of OWNER, MEMBER, BILLING."]},
        ),
        (
            {"user_email": demo.RINGO, "name": "owner"},
            {"name": ["Choose one of OWNER, MEMBER, BILLING."]},
        ),
        (
            {"user_email": "not an email", "name": "BILLING"},
            {"user_email": ["That is not an email address (name@example.com)."]},
        ),
    ],
)
def test_json_field_errors_are_422(
    john: Api, db: Any, body: dict[str, Any], errors: dict[str, list[str]]
) -> None:
    before = roles_snapshot(db)
    response = john.post(ASSIGN, body)
    assert response.status_code == 422
    got = _body(response)
    assert got["status"] == 422
    assert got["errors"] == errors
    assert got["message"]
    assert roles_snapshot(db) == before


@pytest.mark.parametrize(
    "body", [[{"user_email": demo.RINGO}], "BILLING", 5, None, True]
)
def test_json_anything_but_an_object_is_422(john: Api, db: Any, body: Any) -> None:
    before = roles_snapshot(db)
    response = john.post(ASSIGN, data=_dumps(body), content_type="application/json")
    assert response.status_code == 422
    assert _body(response)["message"] == (
        'Send one JSON object whose values are strings, such as {"name": "MEMBER"}.'
    )
    assert roles_snapshot(db) == before


def test_json_unknown_key_that_is_not_a_string_is_422(john: Api) -> None:
    response = john.post(
        ASSIGN, {"user_email": demo.RINGO, "name": "BILLING", "extra": [1]}
    )
    assert response.status_code == 422
    # Named as unknown like any key without a field, whatever its value.
    assert _body(response)["message"] == (
        "Unknown key: extra. Send only: user_email, name, expires."
    )


@pytest.mark.parametrize(
    "raw", [b"{bad", b"", b'{"user_email": "a@b.c",}', b"\xff\xfe{}", b"[1, 2"]
)
def test_json_malformed_body_is_400_and_says_so(john: Api, db: Any, raw: bytes) -> None:
    before = roles_snapshot(db)
    response = john.post(ASSIGN, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert _body(response)["message"].startswith("The request body is not valid JSON:")
    assert roles_snapshot(db) == before


@pytest.mark.parametrize("token", [None, "", "forged", "IjEi.aaaa.bbbb"])
def test_json_write_without_a_valid_csrf_token_is_400(
    john: Api, db: Any, token: str | None
) -> None:
    before = roles_snapshot(db)
    headers = {} if token is None else {"X-CSRFToken": token}
    response = john.client.post(
        ASSIGN,
        json={"user_email": demo.RINGO, "name": "BILLING"},
        headers={**JSON, **headers},
    )
    assert response.status_code == 400
    message = _body(response)["message"]
    assert "CSRF token" in message
    assert "X-CSRFToken" in message
    assert roles_snapshot(db) == before


# --- negotiation ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "answer"),
    [
        (None, "text/html"),
        ("*/*", "text/html"),
        ("text/html", "text/html"),
        ("application/json", "application/json"),
        ("application/json, text/html;q=0.9", "application/json"),
        ("text/html, application/json;q=0.5", "text/html"),
        ("application/*", "application/json"),
        ("text/*;q=0.2, application/json;q=0.3", "application/json"),
        (
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "text/html",
        ),
    ],
)
def test_json_accept_decides(app: Flask, accept: str | None, answer: str) -> None:
    client = app.test_client()
    AuthActions(client).login()
    headers = {} if accept is None else {"Accept": accept}
    response = client.get("/orgs/1/repos", headers=headers)
    assert response.status_code == 200
    assert response.mimetype == answer
    assert "Accept" in response.vary


@pytest.mark.parametrize(
    "accept", ["text/plain", "image/png", "application/xml", "text/html;q=0, */*;q=0"]
)
def test_json_accept_that_allows_neither_is_406(
    app: Flask, db: Any, accept: str
) -> None:
    client = app.test_client()
    AuthActions(client).login()
    before = roles_snapshot(db)
    for method in ("GET", "POST"):
        response = client.open(
            "/orgs/1/roles",
            method=method,
            headers={"Accept": accept},
            data={"user_email": demo.RINGO, "name": "BILLING"},
        )
        assert response.status_code == 406
        assert "HTML (text/html) or JSON (application/json)" in response.get_data(
            as_text=True
        )
    assert roles_snapshot(db) == before


def test_json_body_without_accept_gets_json(john: Api) -> None:
    response = john.client.post(
        ASSIGN,
        json={"user_email": "someone-new@example.com", "name": "BILLING"},
        headers={"X-CSRFToken": john.token},
    )
    assert response.status_code == 200
    assert response.mimetype == "application/json"


def test_json_head_is_answered_like_get(john: Api) -> None:
    response = john.client.head("/orgs/1/repos", headers=JSON)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_data() == b""


def test_json_no_password_hash_or_session_token_goes_out(john: Api, app: Flask) -> None:
    texts = [
        john.get(path).get_data(as_text=True)
        for path in (
            "/orgs",
            "/orgs/1",
            "/orgs/1/roles",
            f"/orgs/1/roles/{RINGO_ID}",
            "/orgs/1/audit",
        )
    ]
    for text in texts:
        assert "argon2" not in text
        assert "session_token" not in text
        assert "password" not in text


def test_json_writes_leave_no_trace_when_refused(app: Flask, db: Any) -> None:
    before = committed_scalar(db, select(func.count()).select_from(AuditEntry))
    api_for(app, demo.PAUL).post(ASSIGN, {"user_email": demo.RINGO, "name": "BILLING"})
    after = committed_scalar(db, select(func.count()).select_from(AuditEntry))
    assert after == before


def test_json_views_do_not_branch_on_the_format() -> None:
    """One place decides: no view module asks which format the request wants."""
    portal = Path(__file__).resolve().parents[1] / "portal"
    asking = re.compile(r"wants_json|accept_mimetypes|is_json|application/json")
    found = [
        path.name
        for path in portal.rglob("*.py")
        if asking.search(path.read_text()) and path.name not in _DECIDERS
    ]
    assert found == []


# The modules allowed to look at the request's format: the decider, and the forms'
# reading of a JSON body.
_DECIDERS = {"negotiation.py", "forms.py"}


def _dumps(value: Any) -> str:
    return json.dumps(value)
