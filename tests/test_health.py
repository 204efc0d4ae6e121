"""GET /healthz and the start-up check of the database."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import create_app
from portal.health import require_database
from portal.infra import migrate
from portal.infra.db import make_engine
from tests.settings import app_settings


def closed_port() -> int:
    """A localhost port that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _app_on(url: str) -> Flask:
    """The app on the database at url."""
    settings = {"TESTING": True, "SECRET_KEY": "k", "HTTPS": False}
    return create_app({**settings, "DATABASE_URL": url, **app_settings()})


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


def migrate_to(url: str, *steps: str) -> None:
    """Upgrade the database at url to head, then downgrade it by each of steps."""
    engine = make_engine(url)
    migrate.upgrade(engine)
    for step in steps:
        migrate.downgrade(engine, step)
    engine.dispose()


def _start_refused(url: str) -> str:
    """require_database's message for the app on url (it must refuse)."""
    app = _app_on(url)
    try:
        with pytest.raises(RuntimeError, match=r"^Portal cannot start: ") as raised:
            require_database(app)
    finally:
        app.extensions["portal.engine"].dispose()
    return str(raised.value)


def test_require_database_refuses_a_schema_one_revision_behind(
    empty_db_url: str,
) -> None:
    # why: a server on a database behind the code fails request by request
    migrate_to(empty_db_url, "-1")
    engine = make_engine(empty_db_url)
    current = migrate.current_revision(engine)
    engine.dispose()
    message = _start_refused(empty_db_url)
    assert f"at revision {current}" in message
    assert migrate.head_revision() in message
    assert message.endswith("run `flask --app portal db upgrade` first.")
    assert "\n" not in message  # one line


def test_require_database_refuses_a_database_without_a_schema(
    empty_db_url: str,
) -> None:
    message = _start_refused(empty_db_url)
    assert "has no schema revision" in message
    assert message.endswith("run `flask --app portal db upgrade` first.")


def test_require_database_refuses_a_schema_of_a_newer_release(
    empty_db_url: str,
) -> None:
    # why: a rolling deploy's old release must not start on the new schema
    migrate_to(empty_db_url)
    engine = make_engine(empty_db_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE alembic_version SET version_num = 'fromthefuture'"
        )
    engine.dispose()
    message = _start_refused(empty_db_url)
    assert "at revision fromthefuture, which this release does not know" in message
    assert "upgrade" not in message  # upgrading cannot help
