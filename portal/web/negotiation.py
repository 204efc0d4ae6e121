"""HTML or JSON: the one place that decides how a response is written.

Every route answers in both. A request gets JSON when it sends a JSON body or its
``Accept`` header prefers ``application/json`` to ``text/html``; otherwise HTML (a
browser, or no ``Accept`` header at all). An ``Accept`` header that allows neither
is answered 406 before anything else runs.

Views never branch on the format. They build one typed page (a
:class:`portal.web.pages.PageView`, next to the view) and call :func:`render`: HTML
from the page's template and fields, or the page's own ``json()`` (an error status:
``{"status", "message", "errors"}``). A write that succeeded calls :func:`done`
with its sentence and where its result is: a flash and a redirect for HTML,
``200 {"message": ..., "location": ...}`` for JSON. An anonymous JSON request
gets 401 instead of the login page (:func:`to_login`). Every JSON body carries a
fresh ``csrf_token``, to send back in the ``X-CSRFToken`` header of the next write.
Responses whose format was chosen vary by ``Accept``.

Static files and views marked :func:`not_negotiated` (/healthz, always JSON) are
served whatever the ``Accept`` header says: never refused with 406.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
)
from flask.json import dumps
from flask_wtf.csrf import generate_csrf
from jinja2 import StrictUndefined
from werkzeug.datastructures import MIMEAccept
from werkzeug.wrappers import Response

from portal.web.pages import PageView

HTML = "text/html"
JSON = "application/json"

NOT_ACCEPTABLE = (
    "Portal answers in HTML (text/html) or JSON (application/json); this request's"
    " Accept header allows neither."
)
LOG_IN_FIRST = (
    "Log in first: POST /login with your email and password (GET /login gives the"
    " CSRF token to send in the X-CSRFToken header)."
)


F = TypeVar("F", bound=Callable[..., Any])


def not_negotiated(view: F) -> F:
    """Mark view as answering in one format of its own, whatever Accept says."""
    view.not_negotiated = True  # type: ignore[attr-defined]
    return view


def init_app(app: Flask) -> None:
    """Refuse unacceptable requests early, mark negotiated responses as varying by
    Accept, and make templates fail on a name their page does not give them."""
    # A typo in a template, or a field a page forgot, is an error rather than an
    # empty string on the page: the typed page is the template's whole context.
    app.jinja_env.undefined = StrictUndefined
    app.before_request(_refuse_unacceptable)
    app.after_request(_finish)


def wants_json() -> bool:
    """Whether this request is answered in JSON (decided once per request)."""
    return _chosen() == JSON


def render(
    page: PageView, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """The response of a view: page's template rendered with its fields, or its JSON.

    An error status (400 and up) in JSON is ``{"status", "message", "errors"}``:
    the message and the field errors that the page would show.
    """
    if not wants_json():
        html = render_template(page.template, **page.context())
        response = Response(html, status, headers)
        response.mimetype = HTML
        return response
    if status >= 400:
        return json_response(page.error_json(status), status, headers)
    return json_response(page.json(), page.json_status(status), headers)


def done(message: str | None, location: str, category: str = "success") -> Response:
    """The answer to a write that succeeded: for HTML, message flashed and a
    redirect to location; for JSON, ``200 {"location", "message"}`` (no message
    key when message is None)."""
    if not wants_json():
        if message is not None:
            flash(message, category)
        return redirect(location)
    # A JSON client loads no page that would show a message flashed earlier in its
    # session (a session that expired, say): it reads them here, before this one.
    pending = [text for _category, text in session.pop("_flashes", [])]
    said = [*pending, message] if message is not None else pending
    body: dict[str, Any] = {"location": location}
    if said:
        body["message"] = " ".join(said)
    return json_response(body, 200)


def json_response(
    body: Mapping[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> Response:
    """body as a JSON response, with the request's fresh CSRF token added."""
    payload = {**body, "csrf_token": generate_csrf()}
    # One object a line (keys sorted), so that curl's output ends its line.
    return Response(dumps(payload) + "\n", status, headers, mimetype=JSON)


def to_login(target: str) -> Response:
    """Where an anonymous request goes: the login page (then back to target), or,
    for JSON, 401."""
    if wants_json():
        abort(401, description=LOG_IN_FIRST)
    return redirect(target)


def _chosen() -> str | None:
    """HTML, JSON or None (neither is acceptable); memoized on g."""
    if "response_format" not in g:
        g.response_format = _choose()
    chosen: str | None = g.response_format
    return chosen


def _choose() -> str | None:
    """The format the request asks for: HTML, JSON, or None (neither)."""
    if request.is_json:
        return JSON  # a JSON body: the client speaks JSON
    if not request.accept_mimetypes:
        return HTML  # no Accept header: anything goes, and pages are the default
    # Compared by type alone: Werkzeug matches "application/json; charset=utf-8"
    # only to a type with the same parameters, and would refuse it (406).
    accept = MIMEAccept(
        [
            (value.partition(";")[0].strip(), quality)
            for value, quality in request.accept_mimetypes
        ]
    )
    return accept.best_match([HTML, JSON])


def _negotiated() -> bool:
    """Whether this request's route answers in HTML or JSON as asked (every page
    and every error, where no route matched); not a static file or a view of one
    format."""
    if request.endpoint == "static":
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return not getattr(view, "not_negotiated", False)


def _refuse_unacceptable() -> None:
    """406 for a negotiated request whose Accept header allows neither format."""
    if _negotiated() and _chosen() is None:
        abort(406, description=NOT_ACCEPTABLE)


def _finish(response: Response) -> Response:
    """Mark a response whose format was chosen as varying by Accept."""
    if "response_format" in g:  # else a static file or a view of one format
        response.vary.add("Accept")
    return response
