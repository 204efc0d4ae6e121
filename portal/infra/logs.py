"""Logging: the app's events, one line each, on stdout.

Lines name people and organizations by id (never a password, token or hash), so
that an operator can follow who changed what without the logs holding secrets.
Under gunicorn, gunicorn.conf.py sends these and gunicorn's own lines (access and
errors) to stdout in one format; elsewhere (flask run) the handler added here does.
"""

from __future__ import annotations

import logging
import sys

from flask import Flask

FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"


def configure_logging(app: Flask) -> None:
    """Log the app's records (logger "portal") at LOG_LEVEL, to stdout unless
    something (gunicorn's logging config, pytest) already receives them."""
    logger = logging.getLogger("portal")  # app.logger: Flask names it after us
    logger.setLevel(app.config["LOG_LEVEL"])
    if not logger.hasHandlers():
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
        logger.addHandler(handler)
