"""Logging: the app's events, one line each, on stdout.

Lines name people and organizations by id (never a password, token or hash), so
that an operator can follow who changed what without the logs holding secrets.
Under gunicorn, gunicorn.conf.py sends these and gunicorn's own lines (access and
errors) to stdout in one format; elsewhere (flask run) the handler added here does.
"""

from __future__ import annotations

import logging
import re
import sys

from flask import Flask

FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"


#: A single-use token in a link's path (an invitation, a password reset), as
#: a request line, a path or a ``next=`` parameter (slashes encoded) says it.
_LINK_TOKEN = re.compile(
    r"(invitations|password(?:/|%2F)reset)(/|%2F)[A-Za-z0-9_-]{16,}", re.IGNORECASE
)


def redact_link_tokens(text: str) -> str:
    """text with the token of every invitation or reset link replaced by
    "[token]": whoever reads a log must not be able to use the link."""
    return _LINK_TOKEN.sub(r"\1\2[token]", text)


class RedactLinkTokens(logging.Filter):
    """A filter for every handler and request log: the formatted message with
    link tokens redacted (gunicorn's access lines, werkzeug's, the app's own,
    "Exception on /invitations/<token> [GET]" included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep the record, its message redacted."""
        message = record.getMessage()
        redacted = redact_link_tokens(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(app: Flask) -> None:
    """Log the app's records (logger "portal") at LOG_LEVEL, to stdout unless
    something (gunicorn's logging config, pytest) already receives them; the
    dev server's request lines (logger "werkzeug") without link tokens."""
    logger = logging.getLogger("portal")  # app.logger: Flask names it after us
    logger.setLevel(app.config["LOG_LEVEL"])
    if not any(isinstance(f, RedactLinkTokens) for f in logger.filters):
        logger.addFilter(RedactLinkTokens())
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, RedactLinkTokens) for f in werkzeug.filters):
        werkzeug.addFilter(RedactLinkTokens())
    if not logger.hasHandlers():
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
        logger.addHandler(handler)
