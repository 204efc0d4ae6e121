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

from portal import demo
from tests.conftest import roles_snapshot
from tests.test_json import api_for

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
        (b'{"email": "\\udcff@beatles.com", "password": "portal-demo"}', "/login"),
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
