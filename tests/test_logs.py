"""Log lines at the points an operator needs: role changes, refused and throttled
logins, crashes; with ids, never passwords."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import demo
from portal.domain.models import OrganizationRole, User
from tests.conftest import AuthActions, csrf_token
from tests.routes import TARGET_ROLE_ID

ROOT = Path(__file__).resolve().parents[1]


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The messages the app logged (logger "portal")."""
    return [r.getMessage() for r in caplog.records if r.name.startswith("portal")]


def _ids(app: Flask) -> dict[str, int]:
    """User ids by email, read straight from the database."""
    with Session(app.extensions["portal.engine"]) as session:
        return dict(session.execute(select(User.email, User.id)).all())


def test_logs_role_change_names_org_user_and_actor(
    app: Flask, client: FlaskClient, auth: AuthActions, caplog: pytest.LogCaptureFixture
) -> None:
    auth.login(demo.JOHN)
    token = csrf_token(client, "/orgs/1/roles")
    caplog.set_level(logging.INFO, logger="portal")
    ids = _ids(app)
    # On Ringo's member page (the roles page's form invites: issue 19).
    shown = {"current": "MEMBER", "current_id": str(TARGET_ROLE_ID)}
    data = {"csrf_token": token, "name": "BILLING", **shown}
    url = f"/orgs/1/roles/{ids[demo.RINGO]}"
    assert client.post(url, data=data).status_code == 302
    assert (
        f"role changed: org=1 user={ids[demo.RINGO]} actor={ids[demo.JOHN]}"
        " old=MEMBER new=BILLING"
    ) in _lines(caplog)


def test_logs_refused_role_change_names_the_reason(
    app: Flask, client: FlaskClient, auth: AuthActions, caplog: pytest.LogCaptureFixture
) -> None:
    auth.login(demo.JOHN)
    token = csrf_token(client, "/orgs/1/roles")
    caplog.set_level(logging.INFO, logger="portal")
    actor = _ids(app)[demo.JOHN]
    # John demoting himself on his member page, the last owner.
    with Session(app.extensions["portal.engine"]) as session:
        role_id = session.scalar(
            select(OrganizationRole.id).where(OrganizationRole.user_id == actor)
        )
    shown = {"current": "OWNER", "current_id": str(role_id)}
    data = {"csrf_token": token, "name": "MEMBER", **shown}
    assert client.post(f"/orgs/1/roles/{actor}", data=data).status_code == 409
    assert f"role change refused: org=1 actor={actor} reason=LastOwner" in _lines(
        caplog
    )


def test_logs_refused_login_names_the_user_but_not_the_password(
    app: Flask, auth: AuthActions, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="portal")
    assert auth.login(demo.PAUL, "wrong-password-123").status_code == 422
    assert auth.login("nobody@example.com", "wrong-password-456").status_code == 422
    lines = _lines(caplog)
    paul = _ids(app)[demo.PAUL]
    assert f"login refused: user={paul} from=127.0.0.1 reason=wrong password" in lines
    assert "login refused: user=- from=127.0.0.1 reason=no such account" in lines
    assert "wrong-password" not in caplog.text
    assert "nobody@example.com" not in caplog.text


def test_logs_throttled_login(
    app: Flask, auth: AuthActions, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(10):
        auth.login(demo.PAUL, "wrong")
    caplog.set_level(logging.INFO, logger="portal")
    assert auth.login(demo.PAUL, "wrong").status_code == 429
    paul = _ids(app)[demo.PAUL]
    throttled = [line for line in _lines(caplog) if line.startswith("login throttled")]
    assert throttled and throttled[0].startswith(
        f"login throttled: user={paul} from=127.0.0.1 retry_after="
    )


@pytest.mark.own_app  # adds a route
def test_logs_server_error_with_its_traceback(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    @app.route("/crash")
    def crash() -> str:
        raise ZeroDivisionError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 as in production
    caplog.set_level(logging.INFO, logger="portal")
    client = app.test_client()
    AuthActions(client).login(demo.JOHN)
    assert client.get("/crash").status_code == 500
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and errors[0].getMessage() == "Exception on /crash [GET]"
    assert errors[0].exc_info and errors[0].exc_info[0] is ZeroDivisionError


def test_configure_logging_writes_to_stdout_when_nothing_else_listens(
    db_url: str,
) -> None:
    # why: under `flask run` no logging is configured; the lines must still show
    script = (
        "from portal import create_app\n"
        f"app = create_app({{'SECRET_KEY': 'k', 'DATABASE_URL': {db_url!r}}})\n"
        "app.logger.info('role changed: org=1')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "[INFO] portal: role changed: org=1" in done.stdout
    assert "role changed" not in done.stderr


def test_logs_never_hold_a_link_token(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    # why: (review) an invitation or reset link read from a log works for its
    # whole life; the app's lines (a 500's "Exception on <path>") and the dev
    # server's request lines are redacted (gunicorn's: tests/test_serve.py)
    token = "A1b2C3d4" * 5 + "xyz"
    with caplog.at_level(logging.INFO):
        app.logger.error("Exception on /invitations/%s [GET]", token)
        logging.getLogger("werkzeug").info(
            '"GET /login?next=%%2Finvitations%%2F%s HTTP/1.1" 302', token
        )
        logging.getLogger("werkzeug").info('"POST /password/reset/%s" 302', token)
    said = "\n".join(record.getMessage() for record in caplog.records)
    assert token not in said
    assert "/invitations/[token] [GET]" in said
    assert "%2Finvitations%2F[token]" in said
    assert "/password/reset/[token]" in said
