"""Error pages: a database that goes away while the app serves gives 503 in the
site's layout, and the app recovers by itself when it returns; a database that
answers but is behind the code (a table missing) gives a logged 500 saying so.

The outages: against the local PostgreSQL server (per-test schema: the pg_url
fixture), reached through a TCP forwarder the test cuts and restores, or with the
app's server connections terminated by pg_terminate_backend. The schema behind:
on both backends, a database of the test's own.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from html import unescape
from urllib.parse import urlsplit, urlunsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal import create_app
from portal.domain import demo
from tests.conftest import AuthActions, csrf_token
from tests.database import postgres_server_url, seed_demo
from tests.settings import app_settings
from tests.tcpproxy import TcpProxy

OUTAGE = "The database is not answering; try again in a moment."


def through(url: str, port: int) -> str:
    """url with its host and port replaced by 127.0.0.1:port."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = netloc[0] + "@" if len(netloc) == 2 else ""
    return urlunsplit(parts._replace(netloc=f"{userinfo}127.0.0.1:{port}"))


@pytest.fixture
def proxy(pg_url: str) -> Iterator[TcpProxy]:
    """A forwarder to the PostgreSQL server, listening."""
    parts = urlsplit(pg_url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    proxy.start()
    yield proxy
    proxy.stop()


def _app(url: str) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "k",
            "DATABASE_URL": url,
            "HTTPS": False,
            **app_settings(),
        }
    )


@pytest.fixture
def proxied_app(pg_url: str, proxy: TcpProxy) -> Iterator[Flask]:
    """The app on the test's schema, through the forwarder."""
    app = _app(through(pg_url, proxy.port))
    yield app
    app.extensions["portal.engine"].dispose()


def _logged_in(app: Flask) -> FlaskClient:
    client = app.test_client()
    assert AuthActions(client).login(demo.JOHN).status_code == 302
    return client


def test_errors_database_outage_gives_503_pages_in_the_layout(
    proxied_app: Flask, proxy: TcpProxy
) -> None:
    client = _logged_in(proxied_app)
    proxy.stop()
    response = client.get("/orgs/1")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    page = response.text
    assert OUTAGE in page
    assert 'class="topbar"' in page  # the site's layout
    assert "Traceback" not in page and "psycopg" not in page
    health = client.get("/healthz")
    assert (health.status_code, health.json) == (
        503,
        {"status": "unavailable", "database": "unavailable"},
    )


def test_errors_database_outage_refuses_a_post_with_503(
    proxied_app: Flask, proxy: TcpProxy
) -> None:
    client = _logged_in(proxied_app)
    token = csrf_token(client, "/orgs/1/roles")
    proxy.stop()
    data = {"csrf_token": token, "user_email": demo.RINGO, "name": "BILLING"}
    response = client.post("/orgs/1/roles", data=data)
    assert response.status_code == 503
    assert OUTAGE in response.text


def test_errors_app_recovers_when_the_database_returns(
    proxied_app: Flask, proxy: TcpProxy
) -> None:
    # why: nothing may need a restart: pool_pre_ping replaces dead connections
    client = _logged_in(proxied_app)
    proxy.stop()
    assert client.get("/orgs").status_code == 503
    proxy.start()
    response = client.get("/orgs")
    assert response.status_code == 200
    # The outage logged nobody out: the session cookie was left alone.
    assert demo.JOHN in response.text
    assert client.get("/healthz").status_code == 200


def test_errors_terminated_server_connections_cost_no_request(pg_url: str) -> None:
    # why: a database restart or failover drops every pooled connection; the
    # next requests must reconnect rather than fail
    name = f"portal_test_{uuid.uuid4().hex[:8]}"
    app = _app(
        make_url(pg_url)
        .update_query_dict({"application_name": name})
        .render_as_string(hide_password=False)
    )
    client = _logged_in(app)
    assert client.get("/orgs").status_code == 200
    admin = create_engine(postgres_server_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        killed = connection.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = :name"
            ),
            {"name": name},
        )
    admin.dispose()
    assert killed >= 1  # the pool held a connection, now dead
    assert client.get("/orgs").status_code == 200
    assert client.get("/healthz").status_code == 200
    app.extensions["portal.engine"].dispose()


@pytest.fixture
def behind_url(empty_db_url: str) -> str:
    """A seeded database of the test's own whose audit_entry table is missing, as
    on a database whose audit-trail migration did not run (login works: its
    tables are all there): never the shared working schema, since the test
    changes its tables. (Downgrading one revision once did this; the newest
    revision is now the login throttle's, which login needs.)"""
    seed_demo(empty_db_url)
    engine = create_engine(empty_db_url)
    with engine.begin() as connection:
        # A rename works alike on both backends (SQLite cannot DROP ... CASCADE).
        connection.exec_driver_sql("ALTER TABLE audit_entry RENAME TO audit_gone")
    engine.dispose()
    return empty_db_url


@pytest.fixture
def behind_app(behind_url: str) -> Iterator[Flask]:
    """The app on a database one revision behind the code."""
    app = _app(behind_url)
    yield app
    app.extensions["portal.engine"].dispose()


def _schema_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The app's log lines that say the schema is behind."""
    return [
        record.getMessage()
        for record in caplog.records
        if record.name.startswith("portal")
        and "schema is behind" in record.getMessage()
    ]


def test_errors_missing_table_is_a_logged_500_not_an_outage(
    behind_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    # why: a database that was not migrated answers; calling it "not answering"
    # with Retry-After sends the operator looking at the wrong thing
    client = _logged_in(behind_app)
    response = client.get("/orgs/1/audit")
    assert response.status_code == 500
    assert "Retry-After" not in response.headers
    assert OUTAGE not in response.text
    assert 'class="topbar"' in response.text  # the site's layout
    assert "audit_entry" not in response.text  # nothing of the database shown
    (line,) = _schema_lines(caplog)
    assert "GET /orgs/1/audit" in line and "audit_entry" in line
    assert "flask --app portal db upgrade" in line


def test_errors_missing_table_answers_json_500(
    behind_app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    client = _logged_in(behind_app)
    response = client.get("/orgs/1/audit", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.json is not None and response.json["status"] == 500
    assert "Retry-After" not in response.headers
    assert len(_schema_lines(caplog)) == 1


def test_errors_missing_user_table_is_a_500_page_too(
    behind_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # why: the table the user loader reads: the page must not ask it again
    app = _app(behind_url)
    client = _logged_in(app)
    with app.extensions["portal.engine"].begin() as connection:
        # A rename works alike on both backends (SQLite cannot DROP ... CASCADE).
        connection.exec_driver_sql('ALTER TABLE "user" RENAME TO user_gone')
    response = client.get("/orgs")
    app.extensions["portal.engine"].dispose()
    assert response.status_code == 500
    assert "Retry-After" not in response.headers
    (line,) = _schema_lines(caplog)
    assert "GET /orgs" in line and "user" in line


# --- the tab's title ----------------------------------------------------------------

TITLE_RE = re.compile(r"<title>(.*?) · Portal</title>", re.DOTALL)
H1_RE = re.compile(r"<h1[^>]*>(.*?)</h1>", re.DOTALL)


def _words(html: str) -> str:
    """html's text, tags dropped, entities read and spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", "", html)).split())


@pytest.mark.parametrize(
    ("email", "method", "url", "status", "title"),
    [
        (demo.PAUL, "GET", "/orgs/1/billing", 403, "You don't have access"),
        (demo.PAUL, "GET", "/no-such-page", 404, "Page not found"),
        (demo.PAUL, "GET", "/orgs/2", 404, "Page not found"),
        (None, "GET", "/no-such-page", 404, "Page not found"),
        (demo.PAUL, "GET", "/orgs?page=abc", 400, "Something is wrong"),
        (demo.PAUL, "GET", "/logout", 405, "This action is not possible here"),
        (demo.PAUL, "POST", "/logout", 400, "This form has expired"),  # no token
    ],
)
def test_errors_tab_title_is_the_heading_in_words(
    client: FlaskClient,
    auth: AuthActions,
    email: str | None,
    method: str,
    url: str,
    status: int,
    title: str,
) -> None:
    # why: tabs read "403 Forbidden · Portal", Werkzeug's words for a status
    # code, where the page itself said "You don't have access to this page"
    if email is not None:
        auth.login(email)
    response = client.open(url, method=method)
    assert response.status_code == status
    shown = TITLE_RE.search(response.text)
    heading = H1_RE.search(response.text)
    assert shown is not None and heading is not None
    tab = _words(shown[1])
    assert tab.startswith(title), tab
    assert tab == _words(heading[1])  # the tab says what the page says
    assert str(status) not in tab
    assert response.status.split(" ", 1)[1] not in tab  # "Not Found"
