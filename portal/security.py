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
    """413 for a declared body over MAX_CONTENT_LENGTH, whether or not a view
    would read it (Werkzeug only enforces the limit when the body is read)."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is not None and request.content_length > limit:
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
