"""GET /healthz for load balancers and the start-up check of the database.

The app keeps no state of its own (sessions are signed cookies), so it is healthy
exactly when its database answers.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine

from portal.infra import db, migrate
from portal.web.guards import public
from portal.web.negotiation import not_negotiated

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@public
@not_negotiated
def healthz() -> ResponseReturnValue:
    """200 {"status": "ok", ...} if SELECT 1 works, else 503 with a short body."""
    try:
        db.ping()
    except db.DatabaseUnavailable as error:
        current_app.logger.warning("health check failed: %s", error)
        return {"status": "unavailable", "database": "unavailable"}, 503
    return {"status": "ok", "database": "ok"}


def require_database(app: Flask) -> None:
    """Raise RuntimeError, saying what is wrong in one line, unless app's database
    answers and its schema is at the migrations' head.

    For start-up (gunicorn.conf.py): a server that starts without its database,
    or on a schema behind the code, only fails later, request by request.
    """
    engine = db.engine(app)
    try:
        db.ping(engine)
        problem = _schema_problem(engine)
    except db.DatabaseUnavailable as error:
        raise RuntimeError(
            f"Portal cannot start: {error} Start the database or fix DATABASE_URL."
        ) from error
    finally:
        # The server forks its workers after this: none may share this socket.
        engine.dispose()
    if problem is not None:
        raise RuntimeError(f"Portal cannot start: the database at {problem}")


def _schema_problem(engine: Engine) -> str | None:
    """What keeps engine's database from being at the migrations' head (its URL
    first, without the password), or None when it is there."""
    current = migrate.current_revision(engine)
    head = migrate.head_revision()
    if current == head:
        return None
    shown = engine.url.render_as_string(hide_password=True)
    if current is None:
        where = "has no schema revision (empty, or made before migrations)"
    elif current not in migrate.revisions():
        # Upgrading cannot help: a newer release migrated it (a rolling deploy's
        # old servers restarting, say).
        return (
            f"{shown} is at revision {current}, which this release does not know:"
            " start the release that migrated it."
        )
    else:
        where = f"is at revision {current}, behind this release's {head}"
    return f"{shown} {where}; run `flask --app portal db upgrade` first."
