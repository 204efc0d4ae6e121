"""The JSON door under attack: what a hostile client sends gets a clean 4xx (never
a 500), changes nothing the HTML form could not change, and leaks nothing the
page does not show.

Each test is a defect a hostile review found in the first JSON version; the
client is tests.test_json's Api (Accept / a JSON body / X-CSRFToken).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from portal.domain import demo
from portal.domain import roles as domain_roles
from tests.conftest import organization, role_of, roles_snapshot, user_by_email
from tests.factories import bulk_repositories, bulk_roles, bulk_users
from tests.test_json import JOHN_ID, JSON, RINGO_ID, Api, api_for, guard_of

ASSIGN = "/orgs/1/roles"


def _body(response: Any) -> dict[str, Any]:
    assert response.mimetype == "application/json", response.get_data(as_text=True)
    body = response.json
    assert isinstance(body, dict)
    return body


# --- bodies the HTML form cannot send -------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 5000 + "]" * 5000,
        '{"user_email": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"name": ' + '{"a":' * 3000 + "1" + "}" * 3000 + "}",
    ],
    ids=["array", "value", "objects"],
)
def test_json_deeply_nested_body_is_400_not_a_crash(
    app: Flask, db: Session, raw: str
) -> None:
    # why: json.loads raised RecursionError (not ValueError) past ~1000 levels,
    # a 500 from a 10 kB body
    john = api_for(app, demo.JOHN)
    before = roles_snapshot(db)
    response = john.post(ASSIGN, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert _body(response)["message"].startswith("The request body is not valid JSON")
    assert roles_snapshot(db) == before


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b'{"user_email": "\\ud800@beatles.com", "name": "MEMBER"}', ASSIGN),
        (b'{"user_email": "ringo@beatles.com", "name": "\\udfff"}', ASSIGN),
        (b'{"\\ud800": "x", "user_email": "ringo@beatles.com"}', ASSIGN),
        (
            b'{"email": "\\udcff@beatles.com", "password": "portal-demo-password"}',
            "/login",
        ),
    ],
    ids=["email", "role", "key", "login"],
)
def test_json_lone_surrogate_is_400_not_a_crash(
    app: Flask, db: Session, raw: bytes, path: str
) -> None:
    # why: a JSON escape can name half a UTF-16 pair, which no urlencoded form
    # can; the database driver then failed to encode it (500)
    api = api_for(app, None if path == "/login" else demo.JOHN)
    before = roles_snapshot(db)
    response = api.post(path, data=raw, content_type="application/json")
    assert response.status_code == 400
    assert "surrogate" in _body(response)["message"]
    assert roles_snapshot(db) == before


def test_json_duplicate_keys_are_refused(app: Flask, db: Session) -> None:
    # why: json.loads kept the last of two "name"s where the form keeps the
    # first: a proxy or log that reads one sees another change than the one made
    john = api_for(app, demo.JOHN)
    before = roles_snapshot(db)
    raw = '{"user_email": "ringo@beatles.com", "name": "BILLING", "name": "OWNER"}'
    response = john.post(ASSIGN, data=raw, content_type="application/json")
    assert response.status_code == 422
    assert _body(response)["errors"] == {"name": ["Send this key once."]}
    assert roles_snapshot(db) == before


# --- paging links ---------------------------------------------------------------


@pytest.fixture
def long_list(app: Flask, db: Session) -> Api:
    """John, with 121 repositories in The Beatles (3 pages)."""
    bulk_repositories(db, demo.BEATLES_ID, 120)
    db.commit()
    return api_for(app, demo.JOHN)


@pytest.mark.parametrize(
    "query",
    [
        "_external=1",
        "_external=1&_scheme=javascript",
        "_anchor=x",
        "_method=POST",
        "endpoint=auth.login",
        "org_id=2",
        "next=//evil.example",
    ],
)
def test_json_paging_links_carry_only_the_lists_own_parameters(
    long_list: Api, query: str
) -> None:
    # why: every query argument went to url_for as a keyword: _external made the
    # links absolute on the request's Host, and _anchor, _scheme, _method,
    # endpoint or a view argument crashed it (500)
    response = long_list.get(f"/orgs/1/repos?page=2&{query}")
    assert response.status_code == 200
    paging = _body(response)["paging"]
    assert paging["prev"] == "/orgs/1/repos?page=1"
    assert paging["next"] == "/orgs/1/repos?page=3"


def test_json_paging_links_keep_the_search(app: Flask, db: Session) -> None:
    # The roles list's own parameters (q, role) stay in its links, as on the page;
    # the search is stripped like the page's, and an unknown argument is dropped.
    users = bulk_users(db, 60, email="extra-{n}@beatles.com")
    bulk_roles(db, [(user_id, demo.BEATLES_ID, "MEMBER") for user_id in users])
    db.commit()
    john = api_for(app, demo.JOHN)
    response = john.get("/orgs/1/roles?q=+extra+&role=MEMBER&page=1&x=1")
    paging = _body(response)["paging"]
    assert paging["next"] == "/orgs/1/roles?q=extra&role=MEMBER&page=2"
    second = _body(john.get(paging["next"]))
    assert second["paging"]["prev"] == "/orgs/1/roles?q=extra&role=MEMBER&page=1"
    assert len(second["members"]) == 10


# --- Accept ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "answer"),
    [
        ("application/json; charset=utf-8", "application/json"),
        ("application/json;charset=UTF-8, */*;q=0.1", "application/json"),
        ("text/html;level=1;q=0.5, application/json;q=0.4", "text/html"),
    ],
)
def test_json_accept_parameters_do_not_hide_the_type(
    app: Flask, accept: str, answer: str
) -> None:
    # why: Werkzeug matched "application/json; charset=utf-8" against
    # application/json only with the same parameters: 406 for a client that asks
    # for exactly JSON (Spring's old APPLICATION_JSON_UTF8 sends it)
    john = api_for(app, demo.JOHN)
    response = john.client.get("/orgs/1", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.mimetype == answer


@pytest.mark.parametrize("accept", ["text/css", "image/png", "text/plain"])
def test_json_static_files_and_health_are_not_negotiated(
    app: Flask, accept: str
) -> None:
    # why: the 406 refused /static/portal.css to "Accept: text/css" and /healthz to
    # a monitor's "Accept: text/plain"; neither is HTML or JSON by choice
    client = app.test_client()
    with client.get("/static/portal.css", headers={"Accept": accept}) as response:
        assert response.status_code == 200
        assert response.mimetype == "text/css"
        assert "Accept" not in response.vary
    health = client.get("/healthz", headers={"Accept": accept})
    assert health.status_code == 200
    assert "Accept" not in health.vary
    page = client.get("/login", headers={"Accept": accept})
    assert page.status_code == 406
    assert "Accept" in page.vary


# --- what the pages show --------------------------------------------------------


def test_json_member_page_gives_refusals_only_to_who_may_act(
    app: Flask, db: Session
) -> None:
    # why: change_refused / removal_refused went to every viewer; the page shows
    # them only next to the controls of someone who may change or remove
    paul = api_for(app, demo.PAUL)
    body = _body(paul.get(f"/orgs/1/roles/{JOHN_ID}"))
    assert (body["may_change"], body["may_remove"]) == (False, False)
    assert body["change_refused"] is None
    assert body["removal_refused"] is None
    john = api_for(app, demo.JOHN)
    own = _body(john.get(f"/orgs/1/roles/{JOHN_ID}"))
    assert "last Owner" in own["removal_refused"]


# --- the confirmation -----------------------------------------------------------


def test_json_confirmation_says_where_and_what_to_send(app: Flask, db: Session) -> None:
    # why: demoting oneself through the assign form (POST /orgs/1/roles) answered
    # 409 'send it again with "confirm": "yes"', and sending it again there asked
    # again, for ever: the form that confirms is the member page's. Since issue
    # 19 the roles page's form changes no role at all.
    john = api_for(app, demo.JOHN)
    paul_id = demo.USERS.index(demo.PAUL) + 1
    made = john.post(
        f"/orgs/1/roles/{paul_id}", {"name": "OWNER", **guard_of(db, demo.PAUL)}
    )
    assert made.status_code == 200
    refused = john.post(ASSIGN, {"user_email": demo.JOHN, "name": "MEMBER"})
    assert refused.status_code == 409 and "confirm" not in _body(refused)
    asked = john.post(
        f"/orgs/1/roles/{JOHN_ID}", {"name": "MEMBER", **guard_of(db, demo.JOHN)}
    )
    assert asked.status_code == 409
    body = _body(asked)
    confirm = body["confirm"]
    assert confirm == {
        "url": f"/orgs/1/roles/{JOHN_ID}",
        "body": {"name": "MEMBER", **guard_of(db, demo.JOHN), "confirm": "yes"},
    }
    assert confirm["url"] in body["message"]
    assert role_of(db, demo.JOHN, 1) == "OWNER"
    done = john.post(confirm["url"], confirm["body"])
    assert done.status_code == 200
    assert role_of(db, demo.JOHN, 1) == "MEMBER"


def test_json_csrf_token_of_another_session_is_refused(app: Flask, db: Session) -> None:
    john, paul = api_for(app, demo.JOHN), api_for(app, demo.PAUL)
    before = roles_snapshot(db)
    response = john.client.post(
        ASSIGN,
        json={"user_email": demo.RINGO, "name": "BILLING", "csrf_token": john.token},
        headers={**JSON, "X-CSRFToken": paul.token},
    )
    assert response.status_code == 400
    assert roles_snapshot(db) == before


# --- keys no form has -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "unknown"),
    [
        (
            ASSIGN,
            {"user_email": demo.RINGO, "name": "BILLING", "organization_id": "2"},
            "organization_id",
        ),
        (ASSIGN, {"user_email": demo.RINGO, "name": "BILLING", "actor": "x"}, "actor"),
        (ASSIGN, {"user_email": demo.RINGO, "name": "BILLING", "extra": [1]}, "extra"),
        (
            "/account/password",
            {
                "current_password": demo.PASSWORD,
                "new_password": "a brand new passphrase",
                "confirm": "a brand new passphrase",
                "user_id": "1",
            },
            "user_id",
        ),
    ],
    ids=["organization_id", "actor", "not-a-string", "password"],
)
def test_json_unknown_key_is_422_naming_it(
    app: Flask, db: Session, path: str, body: dict[str, Any], unknown: str
) -> None:
    # why: a key the form has no field for was dropped when its value was a
    # string (200, the change made), so a client that thought it chose the
    # organization or the actor learnt nothing; other values were a 422
    john = api_for(app, demo.JOHN)
    before = roles_snapshot(db)
    response = john.post(path, body)
    assert response.status_code == 422
    message = _body(response)["message"]
    assert message.startswith(f"Unknown key: {unknown}.")
    assert roles_snapshot(db) == before


def test_json_unknown_keys_are_all_named_with_the_ones_to_send(
    app: Flask, db: Session
) -> None:
    john = api_for(app, demo.JOHN)
    body = {"user_email": demo.RINGO, "name": "BILLING", "user_id": "3", "actor": "1"}
    response = john.post(ASSIGN, body)
    assert response.status_code == 422
    message = _body(response)["message"]
    assert message.startswith("Unknown keys: actor, user_id. Send only: user_email,")
    assert role_of(db, demo.RINGO, demo.BEATLES_ID) == "MEMBER"


def test_json_login_with_an_unknown_key_is_422(app: Flask) -> None:
    api = api_for(app, None)
    response = api.post(
        "/login", {"email": demo.JOHN, "password": demo.PASSWORD, "next": "/orgs/2"}
    )
    assert response.status_code == 422
    assert _body(response)["message"] == (
        "Unknown key: next. Send only: email, password."
    )


# --- stale forms ------------------------------------------------------------------


def _meanwhile(db: Session, email: str, name: str | None) -> None:
    """Another owner gives email the role name in The Beatles (None: removes them),
    committed with its audit entry."""
    org, user = organization(db, demo.BEATLES_ID), user_by_email(db, email)
    if name is None:
        domain_roles.delete_user_role(db, org, user, actor=None)
    else:
        domain_roles.assign_role(db, org, user, name, actor=None)
    db.commit()


def test_json_assign_says_what_it_has_seen_only_to_who_may_assign(
    app: Flask, db: Session
) -> None:
    # Issue 19: the form has no "seen" any more (it changes no role); what only
    # those who may invite are told is the pending invitations.
    john, paul = api_for(app, demo.JOHN), api_for(app, demo.PAUL)
    assert _body(john.get(ASSIGN))["invitations"]["items"] == []
    sent = john.post(ASSIGN, {"user_email": "x@example.com", "name": "MEMBER"})
    assert sent.status_code == 200
    listed = _body(john.get(ASSIGN))["invitations"]["items"]
    assert [(i["email"], i["role"]) for i in listed] == [("x@example.com", "MEMBER")]
    assert _body(paul.get(ASSIGN))["invitations"] is None


def test_json_assign_from_before_a_change_of_that_person_is_409(
    app: Flask, db: Session
) -> None:
    # why: the assign form (add-or-reassign) reassigned Ringo silently after
    # another owner had made him BILLING; since issue 19 it changes no role:
    # whatever the client read, a member is refused with what they are now
    john = api_for(app, demo.JOHN)
    _body(john.get(ASSIGN))  # read while Ringo was a MEMBER
    _meanwhile(db, demo.RINGO, "BILLING")
    before = roles_snapshot(db)
    body = {"user_email": demo.RINGO, "name": "OWNER"}
    stale = john.post(ASSIGN, body)
    assert stale.status_code == 409
    message = (
        "ringo@beatles.com is already a Billing manager here. Change their role on"
        " their page."
    )
    assert _body(stale)["message"] == message
    assert _body(stale)["errors"] == {"user_email": [message]}
    assert roles_snapshot(db) == before
    assert role_of(db, demo.RINGO, demo.BEATLES_ID) == "BILLING"


@pytest.mark.parametrize("suffix", ["", "/delete"])
def test_json_member_form_for_a_role_row_since_re_made_is_409(
    app: Flask, db: Session, suffix: str
) -> None:
    # why: "current" named the role only: a change or removal read for Ringo's
    # old membership applied to a new one with the same role
    john = api_for(app, demo.JOHN)
    url = f"/orgs/1/roles/{RINGO_ID}"
    form = _body(john.get(url))["form"]
    _meanwhile(db, demo.RINGO, None)
    _meanwhile(db, demo.RINGO, "MEMBER")
    before = roles_snapshot(db)
    response = john.post(
        url + suffix, {"name": "BILLING", **form} if not suffix else form
    )
    assert response.status_code == 409
    assert _body(response)["message"] == (
        "ringo@beatles.com was removed and made a Member again while you were"
        " looking. Check it and try again."
    )
    assert roles_snapshot(db) == before
