"""Portal: a multi-tenant admin portal whose every page is governed by an Oso policy.

``create_app`` reads as a list of what the app is made of; nothing happens at
import time.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

from portal import account, auth, authz, cli, db, errors, security, views
from portal.extensions import csrf

__all__ = ["create_app"]


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then instance/config.py and the environment, then
    test_config."""
    app = Flask(__name__, instance_relative_config=True)
    app.url_map.converters["id"] = IdConverter
    load_config(app, test_config)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


class IdConverter(IntegerConverter):
    """A database id in a URL: ASCII digits, 1 to 2**31 - 1, else no match (404).

    Without the bounds, /orgs/99999999999999999999 reaches the database and fails
    there (SQLite: integer overflow; PostgreSQL: out of range for INTEGER). The
    regex also refuses aliases such as /orgs/01 and /orgs/\uff11 (a full-width 1).
    """

    regex = r"[1-9][0-9]{0,9}"

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        super().__init__(url_map, min=1, max=2**31 - 1)


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Defaults < instance/config.py < environment < test_config."""
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        DATABASE_URL=f"sqlite:///{Path(app.instance_path) / 'portal.sqlite'}",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Requests larger than this get 413; our largest form is well under 1 kB.
        MAX_CONTENT_LENGTH=64 * 1024,
        WTF_CSRF_TIME_LIMIT=3600,
        SESSION_IDLE_TIMEOUT=timedelta(minutes=30),
        SESSION_MAX_AGE=timedelta(hours=12),
        # Served over HTTPS: Secure, __Host- prefixed session cookie and HSTS. On
        # unless switched off (make run serves plain HTTP on localhost).
        HTTPS=True,
    )
    app.config.from_pyfile("config.py", silent=True)
    for name in ("SECRET_KEY", "DATABASE_URL"):
        if name in os.environ:
            app.config[name] = os.environ[name]
    if "PORTAL_TRUSTED_HOSTS" in os.environ:
        # Host names the app answers to (Flask refuses others with 400), so that
        # a forged Host header never ends up in a redirect URL.
        app.config["TRUSTED_HOSTS"] = os.environ["PORTAL_TRUSTED_HOSTS"].split(",")
    if "PORTAL_HTTPS" in os.environ:
        app.config["HTTPS"] = os.environ["PORTAL_HTTPS"].lower() not in {
            "0",
            "false",
            "no",
        }
    if test_config is not None:
        app.config.from_mapping(test_config)
    if app.config["HTTPS"]:
        app.config.update(
            SESSION_COOKIE_SECURE=True,
            # __Host-: the browser accepts it only if Secure, Path=/ and no Domain,
            # so a sibling subdomain cannot plant or overwrite it.
            SESSION_COOKIE_NAME="__Host-session",
            SESSION_COOKIE_PATH="/",
            PREFERRED_URL_SCHEME="https",
        )
    if not app.config.get("SECRET_KEY"):
        # No default: a guessable key would let anyone forge session cookies.
        raise RuntimeError(
            "SECRET_KEY is not set: put it in instance/config.py or the environment"
            " (make run creates one)."
        )


def register_extensions(app: Flask) -> None:
    """Database, CSRF, Oso (+ FlaskOso) and Flask-Login."""
    db.init_app(app)
    security.init_app(app)
    csrf.init_app(app)
    authz.init_app(app)
    auth.init_app(app)
    # A global, not a context processor, so that imported macros see it too.
    app.jinja_env.globals.update(can=authz.can, my_role=authz.my_role)


def register_blueprints(app: Flask) -> None:
    """The pages (auth registers its own blueprint along with its hooks)."""
    app.register_blueprint(views.bp)
    app.register_blueprint(account.bp)


def register_errorhandlers(app: Flask) -> None:
    """Error pages in the layout."""
    errors.init_app(app)


def register_commands(app: Flask) -> None:
    """flask init-db, flask seed."""
    cli.init_app(app)
