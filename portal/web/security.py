"""Security headers on every response, and request bodies read whole before any
work starts."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, abort, current_app, request
from werkzeug.exceptions import ClientDisconnected
from werkzeug.wrappers import Response

from portal.infra.db import SAFE_METHODS

# Where the WSGI servers we run under put the client's socket.
_SOCKET_KEYS = ("gunicorn.socket", "werkzeug.socket")

# Only our own scripts, styles and images; no plugins, no <base>, no framing, and
# forms may only post back to us. Templates therefore have no inline script/style.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def init_app(app: Flask) -> None:
    """Read every writing request's body first; add the headers to every
    response of app."""
    # The first before_request hook: nothing has asked the database anything yet.
    app.before_request(_read_body_first)
    app.after_request(_add_headers)


def _read_body_first() -> None:
    """Read a writing request's whole body before anything else runs.

    why: the user loader's first statement opens the request's transaction (on
    SQLite the database-wide write lock, on PostgreSQL row locks follow), and a
    view reads a JSON body only after that: a client that sent 5 of 83 bytes and
    went silent held every other tenant's logins and role changes for 30 s. Read
    here, a slow body costs nobody but its sender: a read that stalls for
    BODY_READ_TIMEOUT seconds is answered 408.

    413 for a body over MAX_CONTENT_LENGTH, declared or not (Werkzeug only
    enforces the limit when the body is read).
    """
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
        abort(413)  # whatever the method: nothing may act on it
    if request.method in SAFE_METHODS:
        return
    # No declared length (Transfer-Encoding: chunked): Werkzeug stops reading at
    # the limit *without* an error, and the form would be parsed from the part
    # that fit. So read up to one byte more than the limit: if it comes, the body
    # is too large. The bytes read are cached, and request.form is parsed from
    # that cache, so a body within the limit still reaches the view whole.
    request.max_content_length = limit + 1
    try:
        with _read_timeout(current_app.config["BODY_READ_TIMEOUT"]):
            body = request.get_data(cache=True)
    except ClientDisconnected as error:
        if isinstance(error.__context__, TimeoutError):
            abort(408, "The request body stopped arriving; send it again.")
        raise
    finally:
        request.max_content_length = limit
    if len(body) > limit:
        abort(413)


@contextmanager
def _read_timeout(seconds: float) -> Iterator[None]:
    """Bound each read from the client's socket to seconds, when the server
    tells us the socket (gunicorn, Werkzeug's server); restore it afterwards."""
    sock = next(
        (
            request.environ[key]
            for key in _SOCKET_KEYS
            if isinstance(request.environ.get(key), socket.socket)
        ),
        None,
    )
    if sock is None:
        yield
        return
    before = sock.gettimeout()
    sock.settimeout(seconds)
    try:
        yield
    finally:
        sock.settimeout(before)


def _add_headers(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    # A page may ask for less (the password reset links: no-referrer).
    headers.setdefault("Referrer-Policy", "same-origin")
    headers["X-Frame-Options"] = "DENY"  # for browsers without frame-ancestors
    if request.endpoint != "static":
        # Pages show tenant data and carry CSRF tokens: never store them.
        headers["Cache-Control"] = "no-store"
    if current_app.config["HTTPS"]:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response
