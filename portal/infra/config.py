"""Configuration: defaults, then instance/config.py, then the environment, then
the test overrides."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from portal.infra.passwords import ASVS

# Whole numbers read from the environment, and the settings they set.
_INTEGERS = {
    "PORTAL_PROXY_COUNT": "PROXY_COUNT",
    "PORTAL_DB_POOL_SIZE": "DATABASE_POOL_SIZE",
    "PORTAL_DB_MAX_OVERFLOW": "DATABASE_MAX_OVERFLOW",
    "PORTAL_DB_LOCK_TIMEOUT": "DATABASE_LOCK_TIMEOUT",
    "PORTAL_DB_STATEMENT_TIMEOUT": "DATABASE_STATEMENT_TIMEOUT",
}


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Defaults < instance/config.py < environment < test_config."""
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _set_defaults(app)
    app.config.from_pyfile("config.py", silent=True)
    _read_environment(app)
    if test_config is not None:
        app.config.from_mapping(test_config)
    _apply_https(app)
    if not app.config.get("SECRET_KEY"):
        # No default: a guessable key would let anyone forge session cookies.
        raise RuntimeError(
            "SECRET_KEY is not set: put it in the environment or instance/config.py"
            " (make run creates one for development; production supplies its own)."
        )


def _set_defaults(app: Flask) -> None:
    """Every setting's default."""
    app.config.from_mapping(
        DATABASE_URL=f"sqlite:///{Path(app.instance_path) / 'portal.sqlite'}",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Requests larger than this get 413; our largest form is well under 1 kB.
        MAX_CONTENT_LENGTH=64 * 1024,
        # Seconds a writing request's body may stall between two reads before
        # it is answered 408 (portal/web/security.py reads it before any work).
        BODY_READ_TIMEOUT=10.0,
        # PostgreSQL: seconds a statement may wait for a lock, and run at all,
        # before it is cancelled (answered 503 with Retry-After).
        DATABASE_LOCK_TIMEOUT=5.0,
        DATABASE_STATEMENT_TIMEOUT=30.0,
        WTF_CSRF_TIME_LIMIT=3600,
        SESSION_IDLE_TIMEOUT=timedelta(minutes=30),
        SESSION_MAX_AGE=timedelta(hours=12),
        # Served over HTTPS: Secure, __Host- prefixed session cookie and HSTS. On
        # unless switched off (make run serves plain HTTP on localhost).
        HTTPS=True,
        # How many reverse proxies in front of the app set X-Forwarded-*: their
        # headers are believed, nobody else's. 0: none, the headers are ignored.
        PROXY_COUNT=0,
        # Connections per process (PostgreSQL): see the README's Production section.
        DATABASE_POOL_SIZE=5,
        DATABASE_MAX_OVERFLOW=5,
        LOG_LEVEL="INFO",
        # Entries in each of PortalOso's cross-request caches (decisions and
        # list filters); 0 switches them off.
        AUTHZ_CACHE_SIZE=4096,
        # List the demo accounts and their password on the login page. Only for
        # the demo (make run sets it); a real deployment never shows accounts.
        DEMO_ACCOUNTS=False,
        # argon2id's cost for new password hashes (portal/infra/passwords.py). ASVS in
        # every deployment; test suites set passwords.FAST.
        PASSWORD_HASH_COST=ASVS,
        # A jinja2.BytecodeCache for compiled templates, shared by every app that
        # is given the same one (the test suite makes ~1,500 apps); None: each app
        # compiles its templates on first use.
        TEMPLATE_BYTECODE_CACHE=None,
        # Where people reach Portal: the scheme, host and optional path prefix
        # every link in a mail starts with (portal.web.links). Never the request's
        # Host header, which a client chooses (a password-reset link to a forged
        # host would hand the token to whoever forged it). make run's address by
        # default; production sets PORTAL_PUBLIC_URL.
        PUBLIC_URL="http://127.0.0.1:5000",
    )


def _read_environment(app: Flask) -> None:
    """The settings the environment gives (SECRET_KEY, DATABASE_URL, PORTAL_*)."""
    for name in ("SECRET_KEY", "DATABASE_URL"):
        if name in os.environ:
            app.config[name] = os.environ[name]
    if "PORTAL_PUBLIC_URL" in os.environ:
        app.config["PUBLIC_URL"] = os.environ["PORTAL_PUBLIC_URL"]
    if "PORTAL_TRUSTED_HOSTS" in os.environ:
        # Host names the app answers to (Flask refuses others with 400), so that
        # a forged Host header never ends up in a redirect URL.
        # Comma-separated, spaces around names allowed ("a.example, b.example").
        names = os.environ["PORTAL_TRUSTED_HOSTS"].split(",")
        app.config["TRUSTED_HOSTS"] = [name.strip() for name in names if name.strip()]
    if "PORTAL_HTTPS" in os.environ:
        # Off only when clearly switched off: a typo must not drop Secure cookies.
        app.config["HTTPS"] = os.environ["PORTAL_HTTPS"].lower() not in {
            "0",
            "false",
            "no",
        }
    if "PORTAL_DEMO_ACCOUNTS" in os.environ:
        # On only when clearly switched on: a typo must not list accounts.
        app.config["DEMO_ACCOUNTS"] = os.environ["PORTAL_DEMO_ACCOUNTS"].lower() in {
            "1",
            "true",
            "yes",
            "on",
        }
    for name, key in _INTEGERS.items():
        if name in os.environ:
            app.config[key] = _non_negative(name, os.environ[name])
    if "PORTAL_LOG_LEVEL" in os.environ:
        app.config["LOG_LEVEL"] = os.environ["PORTAL_LOG_LEVEL"].upper()


def _apply_https(app: Flask) -> None:
    """With HTTPS on: Secure, __Host- prefixed session cookies and https URLs."""
    if app.config["HTTPS"]:
        app.config.update(
            SESSION_COOKIE_SECURE=True,
            # __Host-: the browser accepts it only if Secure, Path=/ and no Domain,
            # so a sibling subdomain cannot plant or overwrite it.
            SESSION_COOKIE_NAME="__Host-session",
            SESSION_COOKIE_PATH="/",
            PREFERRED_URL_SCHEME="https",
        )


def _non_negative(name: str, value: str) -> int:
    """value as a whole number >= 0, or a RuntimeError that names the variable."""
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise RuntimeError(f"{name} must be a whole number >= 0, not {value!r}.")
    return number
