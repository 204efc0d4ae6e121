"""create_app: proxies trusted only when configured; settings read from the
environment are checked."""

from __future__ import annotations

import pytest
from flask import Flask, request
from sqlalchemy.pool import QueuePool

from portal import create_app
from portal.guards import public

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
