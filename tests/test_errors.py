"""Error pages: a database that goes away while the app serves gives 503 in the
site's layout, and the app recovers by itself when it returns.

Against the local PostgreSQL server (per-test schema: the pg_url fixture),
reached through a TCP forwarder the test cuts and restores, or with the app's
server connections terminated by pg_terminate_backend.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from portal import create_app
from portal.domain import demo
from tests.conftest import AuthActions, csrf_token
from tests.database import postgres_server_url
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
