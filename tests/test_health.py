"""GET /healthz and the start-up check of the database."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import create_app
from portal.health import require_database
from tests.settings import app_settings


def closed_port() -> int:
    """A localhost port that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def unreachable_app() -> Iterator[Flask]:
    """The app pointed at a PostgreSQL address where nothing answers."""
    url = f"postgresql+psycopg://portal:s3cret@127.0.0.1:{closed_port()}/portal"
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "k",
            "DATABASE_URL": url,
            "HTTPS": False,
            **app_settings(),
        }
    )
    yield app
    app.extensions["portal.engine"].dispose()


def test_healthz_answers_ok_when_the_database_answers(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_answers_503_when_the_database_does_not(
    unreachable_app: Flask,
) -> None:
    response = unreachable_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unavailable"}


def test_healthz_sets_no_session_cookie(client: FlaskClient) -> None:
    # why: a load balancer polls it every few seconds; it must stay stateless
    assert "Set-Cookie" not in client.get("/healthz").headers


def test_require_database_passes_when_the_database_answers(app: Flask) -> None:
    require_database(app)


def test_require_database_names_the_database_but_not_its_password(
    unreachable_app: Flask,
) -> None:
    with pytest.raises(RuntimeError, match="Portal cannot start") as raised:
        require_database(unreachable_app)
    message = str(raised.value)
    assert "not answering" in message and "DATABASE_URL" in message
    assert "127.0.0.1" in message
    assert "s3cret" not in message
