"""Error pages in the site's layout, each with a way back."""

from __future__ import annotations

from flask import Flask, current_app, g, render_template
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

# Pages with their own template; every other HTTP error uses errors/error.html.
_OWN_TEMPLATE = {403, 404, 500}


def init_app(app: Flask) -> None:
    """Render HTTP errors, CSRF failures and crashes with the site's templates."""
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _server_error)


def _refused() -> None:
    """Tell FlaskOso's tripwire that this request was decided: it was refused.

    (The tripwire only catches views that return a page without any check.)
    """
    current_app.extensions["portal.flask_oso"].skip_authorization()


def _http_error(error: HTTPException) -> tuple[str, int] | Response:
    """Any HTTP error, in the layout."""
    _refused()
    if request_ctx.url_adapter is None:
        # The request was refused before routing (an untrusted Host header):
        # the layout's links cannot be built, so answer with Werkzeug's page.
        return error.get_response()
    code = error.code or 500
    template = f"errors/{code}.html" if code in _OWN_TEMPLATE else "errors/error.html"
    # A description of the view's own (abort(404, description=...)) says more
    # than the generic text; Werkzeug's class default says nothing specific.
    specific = error.description != type(error).description
    return render_template(template, error=error, specific=specific), code


def _csrf_error(error: CSRFError) -> tuple[str, int]:
    """A POST without a valid CSRF token: say what to do about it."""
    _refused()
    return render_template("errors/csrf.html", error=error), 400


def _server_error(error: InternalServerError) -> tuple[str, int]:
    """A crash: undo the request's unfinished work, then say sorry."""
    _refused()
    session = g.get("db_session")
    if session is not None:
        session.rollback()
    return render_template("errors/500.html", error=error), 500
