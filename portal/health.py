"""GET /healthz for load balancers and the start-up check of the database.

The app keeps no state of its own (sessions are signed cookies), so it is healthy
exactly when its database answers.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app
from flask.typing import ResponseReturnValue

from portal.infra import db
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
    """Raise RuntimeError, saying what is wrong, unless app's database answers.

    For start-up (gunicorn.conf.py): a server that starts without its database
    only fails later, request by request.
    """
    engine = db.engine(app)
    try:
        db.ping(engine)
    except db.DatabaseUnavailable as error:
        raise RuntimeError(
            f"Portal cannot start: {error} Start the database or fix DATABASE_URL."
        ) from error
    finally:
        # The server forks its workers after this: none may share this socket.
        engine.dispose()
