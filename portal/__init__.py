"""Portal: a multi-tenant admin portal whose every page is governed by an Oso policy.

``create_app`` reads as a list of what the app is made of; nothing happens at
import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from portal import auth, authz, cli, db, errors, views
from portal.extensions import csrf

__all__ = ["create_app"]


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then instance/config.py and the environment, then
    test_config."""
    app = Flask(__name__, instance_relative_config=True)
    load_config(app, test_config)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def load_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Defaults < instance/config.py < environment < test_config."""
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(
        DATABASE_URL=f"sqlite:///{Path(app.instance_path) / 'portal.sqlite'}",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=64 * 1024,
        WTF_CSRF_TIME_LIMIT=3600,
    )
    app.config.from_pyfile("config.py", silent=True)
    for name in ("SECRET_KEY", "DATABASE_URL"):
        if name in os.environ:
            app.config[name] = os.environ[name]
    if test_config is not None:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        # No default: a guessable key would let anyone forge session cookies.
        raise RuntimeError(
            "SECRET_KEY is not set: put it in instance/config.py or the environment"
            " (make run creates one)."
        )


def register_extensions(app: Flask) -> None:
    """Database, CSRF, Oso (+ FlaskOso) and Flask-Login."""
    db.init_app(app)
    csrf.init_app(app)
    authz.init_app(app)
    auth.init_app(app)
    # A global, not a context processor, so that imported macros see it too.
    app.jinja_env.globals["can"] = authz.can


def register_blueprints(app: Flask) -> None:
    """The organization pages (auth registers its own blueprint with its hooks)."""
    app.register_blueprint(views.bp)


def register_errorhandlers(app: Flask) -> None:
    """Error pages in the layout."""
    errors.init_app(app)


def register_commands(app: Flask) -> None:
    """flask init-db, flask seed."""
    cli.init_app(app)
