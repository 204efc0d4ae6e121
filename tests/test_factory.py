"""create_app: where configuration comes from, and the switches it reads.

Precedence: defaults < instance/config.py < environment < test_config. Every app
here gets an empty instance folder of the test's own and none of the app's
environment variables (the autouse instance_path fixture of conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, request
from sqlalchemy.pool import QueuePool

from portal import create_app
from portal.web.guards import public

MakeApp = Callable[..., Flask]


@pytest.fixture
def make_app() -> Iterator[MakeApp]:
    """create_app, with each app's engine disposed of after the test."""
    apps: list[Flask] = []

    def make(test_config: dict[str, Any] | None = None) -> Flask:
        app = create_app(test_config)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["portal.engine"].dispose()


def _instance_config(instance_path: Path, **settings: Any) -> None:
    """Write instance/config.py with settings."""
    instance_path.mkdir(parents=True, exist_ok=True)
    lines = [f"{name} = {value!r}" for name, value in settings.items()]
    (instance_path / "config.py").write_text("\n".join(lines) + "\n")


# --- precedence ---------------------------------------------------------------


def test_factory_defaults(make_app: MakeApp, instance_path: Path) -> None:
    app = make_app({"SECRET_KEY": "k"})
    assert app.config["DATABASE_URL"] == f"sqlite:///{instance_path / 'portal.sqlite'}"
    assert app.config["MAX_CONTENT_LENGTH"] == 64 * 1024
    assert app.config["WTF_CSRF_TIME_LIMIT"] == 3600
    assert app.config["HTTPS"] is True
    assert not app.testing


def test_factory_instance_config_overrides_defaults(
    make_app: MakeApp, instance_path: Path
) -> None:
    _instance_config(
        instance_path,
        SECRET_KEY="from-instance",
        DATABASE_URL="sqlite:///instance.sqlite",
        MAX_CONTENT_LENGTH=1234,
    )
    app = make_app()
    assert app.config["SECRET_KEY"] == "from-instance"
    assert app.config["DATABASE_URL"] == "sqlite:///instance.sqlite"
    assert app.config["MAX_CONTENT_LENGTH"] == 1234


def test_factory_environment_overrides_instance_config(
    make_app: MakeApp, instance_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _instance_config(
        instance_path,
        SECRET_KEY="from-instance",
        DATABASE_URL="sqlite:///instance.sqlite",
        HTTPS=True,
    )
    monkeypatch.setenv("SECRET_KEY", "from-environment")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///environment.sqlite")
    monkeypatch.setenv("PORTAL_HTTPS", "0")
    app = make_app()
    assert app.config["SECRET_KEY"] == "from-environment"
    assert app.config["DATABASE_URL"] == "sqlite:///environment.sqlite"
    assert app.config["HTTPS"] is False


def test_factory_test_config_overrides_environment(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", "from-environment")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///environment.sqlite")
    monkeypatch.setenv("PORTAL_HTTPS", "0")
    app = make_app(
        {"SECRET_KEY": "from-test", "DATABASE_URL": "sqlite://", "HTTPS": True}
    )
    assert app.config["SECRET_KEY"] == "from-test"
    assert app.config["DATABASE_URL"] == "sqlite://"
    assert app.config["HTTPS"] is True


def test_factory_ignores_other_environment_variables(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # why: only the names config.py lists are read; nothing else leaks in
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "1")
    assert make_app({"SECRET_KEY": "k"}).config["MAX_CONTENT_LENGTH"] == 64 * 1024


# --- secret key ---------------------------------------------------------------


def test_factory_refuses_to_start_without_a_secret_key(make_app: MakeApp) -> None:
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set: put it in"):
        make_app()


def test_factory_refuses_an_empty_secret_key(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", "")
    with pytest.raises(RuntimeError, match="SECRET_KEY is not set"):
        make_app()


def test_factory_takes_the_secret_key_from_the_environment_alone(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", "from-environment")
    assert make_app().config["SECRET_KEY"] == "from-environment"


# --- HTTPS switch -------------------------------------------------------------


def _login_page(app: Flask) -> Any:
    """GET /login, which sets the session cookie (its CSRF token)."""
    response = app.test_client().get("/login", base_url="https://localhost")
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("value", [None, "1", "true", "yes", "on"])
def test_factory_https_is_on_unless_switched_off(
    make_app: MakeApp, db_url: str, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is not None:
        monkeypatch.setenv("PORTAL_HTTPS", value)
    response = _login_page(make_app({"SECRET_KEY": "k", "DATABASE_URL": db_url}))
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=") and "; Secure" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize("value", ["0", "false", "no", "FALSE", "No"])
def test_factory_https_switched_off(
    make_app: MakeApp, db_url: str, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("PORTAL_HTTPS", value)
    app = make_app({"SECRET_KEY": "k", "DATABASE_URL": db_url})
    response = _login_page(app)
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=") and "Secure" not in cookie
    assert "Strict-Transport-Security" not in response.headers
    assert app.config["PREFERRED_URL_SCHEME"] == "http"


# --- trusted hosts ------------------------------------------------------------


def test_factory_trusted_hosts_from_the_environment(
    make_app: MakeApp, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTAL_TRUSTED_HOSTS", "portal.example.com,admin.example.com")
    app = make_app({"SECRET_KEY": "k", "DATABASE_URL": db_url, "HTTPS": False})
    assert app.config["TRUSTED_HOSTS"] == ["portal.example.com", "admin.example.com"]
    client = app.test_client()
    for host, status in [
        ("portal.example.com", 200),
        ("admin.example.com", 200),
        ("evil.example", 400),
    ]:
        assert client.get("/login", headers={"Host": host}).status_code == status


def test_factory_answers_any_host_without_trusted_hosts(
    make_app: MakeApp, db_url: str
) -> None:
    app = make_app({"SECRET_KEY": "k", "DATABASE_URL": db_url, "HTTPS": False})
    assert app.config["TRUSTED_HOSTS"] is None
    response = app.test_client().get("/login", headers={"Host": "any.example"})
    assert response.status_code == 200


# --- proxies and environment numbers -----------------------------------------

FORWARDED = {
    "X-Forwarded-For": "203.0.113.7, 198.51.100.2",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "portal.example.com",
}


def _whoami(app: Flask) -> str:
    """GET a route that echoes what the app believes about the request."""

    @app.route("/whoami")
    @public
    def whoami() -> str:
        return f"{request.remote_addr} {request.scheme} {request.host}"

    return app.test_client().get("/whoami", headers=FORWARDED).text


def _app(db_url: str, **config: object) -> Flask:
    settings = {"SECRET_KEY": "k", "DATABASE_URL": db_url, "HTTPS": False}
    return create_app({**settings, **config})


def test_factory_ignores_forwarded_headers_by_default(db_url: str) -> None:
    # why: without a proxy in front, anyone could claim any address or HTTPS
    assert _whoami(_app(db_url)) == "127.0.0.1 http localhost"


def test_factory_trusts_only_the_configured_number_of_proxies(db_url: str) -> None:
    # why: 203.0.113.7 was written by the client itself; only the last entry
    # comes from our one proxy
    whoami = _whoami(_app(db_url, PROXY_COUNT=1))
    assert whoami == "198.51.100.2 https portal.example.com"


def test_factory_reads_the_proxy_count_from_the_environment(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTAL_PROXY_COUNT", "2")
    assert _app(db_url).config["PROXY_COUNT"] == 2


@pytest.mark.parametrize("value", ["-1", "two", ""])
def test_factory_refuses_a_bad_number_in_the_environment(
    db_url: str, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("PORTAL_DB_POOL_SIZE", value)
    with pytest.raises(RuntimeError, match="PORTAL_DB_POOL_SIZE must be"):
        _app(db_url)


def test_factory_sizes_the_postgresql_pool_from_the_settings() -> None:
    url = "postgresql+psycopg://portal@127.0.0.1:1/portal"  # never connected to
    app = _app(url, DATABASE_POOL_SIZE=7, DATABASE_MAX_OVERFLOW=3)
    pool = app.extensions["portal.engine"].pool
    assert isinstance(pool, QueuePool)
    # QueuePool shows its overflow limit only as this attribute.
    assert (pool.size(), pool._max_overflow) == (7, 3)
