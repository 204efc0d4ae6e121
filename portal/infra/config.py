"""Configuration: defaults, then instance/config.py, then the environment, then
the test overrides."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from email.utils import parseaddr
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
    "PORTAL_MAIL_PORT": "MAIL_PORT",
}

# Text read from the environment as it is, and the settings it sets (mail).
_TEXTS = {
    "PORTAL_MAIL_SERVER": "MAIL_SERVER",
    "PORTAL_MAIL_USERNAME": "MAIL_USERNAME",
    "PORTAL_MAIL_PASSWORD": "MAIL_PASSWORD",
    "PORTAL_MAIL_FROM": "MAIL_FROM",
    "PORTAL_MAIL_CA_FILE": "MAIL_CA_FILE",
}

# How mail reaches its server (portal.mail), and each one's default port.
MAIL_SECURITIES = {"none": 25, "starttls": 587, "tls": 465}


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Defaults < instance/config.py < environment < test_config."""
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _set_defaults(app)
    app.config.from_pyfile("config.py", silent=True)
    _read_environment(app)
    if test_config is not None:
        app.config.from_mapping(test_config)
    _apply_https(app)
    _check_mail(app)
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
        # --- mail (portal.mail; README, Production: "Mail") ---
        # The SMTP server mail leaves through. None: the console backend, which
        # prints each mail (links included) on stderr and marks it sent; that is
        # how make run shows mail without a mail server.
        MAIL_SERVER=None,
        # None: MAIL_SECURITY's usual port (25, 587 with starttls, 465 with tls).
        MAIL_PORT=None,
        # none | starttls (upgrade after connecting) | tls (TLS from the start).
        MAIL_SECURITY="none",
        # Log in with these when both are set (never over an unencrypted link).
        MAIL_USERNAME=None,
        MAIL_PASSWORD=None,
        # The From header, a display name and an address.
        MAIL_FROM="Portal <portal@localhost>",
        # Seconds each step of an SMTP conversation (connecting included) may take.
        MAIL_TIMEOUT=10.0,
        # A PEM file of the CAs to check the server's certificate with (a private
        # CA); None: the system's.
        MAIL_CA_FILE=None,
        # Messages one batch claims, and tries a message gets before it is
        # marked failed for good (30 s after the first failure, doubling, at
        # most an hour apart: about 3 hours in all with 10).
        MAIL_BATCH_SIZE=50,
        MAIL_MAX_ATTEMPTS=10,
        # Run the sender in a thread of the server process, every MAIL_INTERVAL
        # seconds: make run sets it, so a mail shows in its terminal within a
        # second or two. Off by default and in tests; production runs
        # `flask --app portal send-mail --loop` as a process of its own.
        MAIL_SEND_IN_PROCESS=False,
        MAIL_INTERVAL=1.0,
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
    _read_mail_environment(app)
    if "PORTAL_LOG_LEVEL" in os.environ:
        app.config["LOG_LEVEL"] = os.environ["PORTAL_LOG_LEVEL"].upper()


def _read_mail_environment(app: Flask) -> None:
    """The PORTAL_MAIL_* settings the environment gives (checked by _check_mail)."""
    for name, key in _TEXTS.items():
        if name in os.environ:
            # An empty variable is no setting (PORTAL_MAIL_SERVER= : console).
            app.config[key] = os.environ[name] or None
    if "PORTAL_MAIL_SECURITY" in os.environ:
        app.config["MAIL_SECURITY"] = os.environ["PORTAL_MAIL_SECURITY"].lower()
    if "PORTAL_MAIL_TIMEOUT" in os.environ:
        value = os.environ["PORTAL_MAIL_TIMEOUT"]
        try:
            app.config["MAIL_TIMEOUT"] = float(value)
        except ValueError:
            raise RuntimeError(
                f"PORTAL_MAIL_TIMEOUT must be a number of seconds, not {value!r}."
            ) from None
    if "PORTAL_MAIL_SEND_IN_PROCESS" in os.environ:
        app.config["MAIL_SEND_IN_PROCESS"] = os.environ[
            "PORTAL_MAIL_SEND_IN_PROCESS"
        ].lower() in {"1", "true", "yes", "on"}


def _check_mail(app: Flask) -> None:
    """Refuse mail settings that cannot work, naming the setting (at start-up,
    not at the first mail)."""
    config = app.config
    security = config["MAIL_SECURITY"]
    if security not in MAIL_SECURITIES:
        raise RuntimeError(
            f"MAIL_SECURITY (PORTAL_MAIL_SECURITY) must be one of"
            f" {', '.join(MAIL_SECURITIES)}, not {security!r}."
        )
    port = config["MAIL_PORT"]
    if port is not None and not 0 < port < 65536:
        raise RuntimeError(f"MAIL_PORT (PORTAL_MAIL_PORT) is not a port: {port}.")
    if not config["MAIL_TIMEOUT"] > 0:
        raise RuntimeError("MAIL_TIMEOUT (PORTAL_MAIL_TIMEOUT) must be above 0.")
    _name, address = parseaddr(config["MAIL_FROM"] or "")
    if "@" not in address or re.search(r"[\x00-\x1f\x7f]", config["MAIL_FROM"]):
        raise RuntimeError(
            "MAIL_FROM (PORTAL_MAIL_FROM) must be an address, with a display name"
            f" if you like (Portal <portal@example.com>), not {config['MAIL_FROM']!r}."
        )
    if config["MAIL_USERNAME"] and security == "none" and config["MAIL_SERVER"]:
        # smtplib would send the password in the clear.
        raise RuntimeError(
            "PORTAL_MAIL_USERNAME is set but PORTAL_MAIL_SECURITY is none: the"
            " password would cross the network unencrypted. Set it to starttls"
            " or tls."
        )


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
