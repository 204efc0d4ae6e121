"""Security headers on every response."""

from __future__ import annotations

from flask import Flask, abort, current_app, request
from werkzeug.wrappers import Response

# Only our own scripts, styles and images; no plugins, no <base>, no framing, and
# forms may only post back to us. Templates therefore have no inline script/style.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def init_app(app: Flask) -> None:
    """Add the headers to every response of app."""
    app.before_request(_refuse_oversized_bodies)
    app.after_request(_add_headers)


def _refuse_oversized_bodies() -> None:
    """413 for a body over MAX_CONTENT_LENGTH, declared or not, before anything
    acts on it (Werkzeug only enforces the limit when the body is read)."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None:
        if request.content_length > limit:
            abort(413)
        return
    # No declared length (Transfer-Encoding: chunked): Werkzeug stops reading at
    # the limit *without* an error, and the form would be parsed from the part
    # that fit. So read up to one byte more than the limit: if it comes, the body
    # is too large. The bytes read are cached, and request.form is parsed from
    # that cache, so a body within the limit still reaches the view whole.
    request.max_content_length = limit + 1
    body = request.get_data(cache=True)
    request.max_content_length = limit
    if len(body) > limit:
        abort(413)


def _add_headers(response: Response) -> Response:
    headers = response.headers
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"  # for browsers without frame-ancestors
    if request.endpoint != "static":
        # Pages show tenant data and carry CSRF tokens: never store them.
        headers["Cache-Control"] = "no-store"
    if current_app.config["HTTPS"]:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response
