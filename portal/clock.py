"""The current time, from one place that tests can control (app.config["CLOCK"])."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app


def now() -> datetime:
    """The current UTC time: the app's CLOCK if it has one, else the system's."""
    clock = current_app.config.get("CLOCK")
    return clock() if clock is not None else datetime.now(UTC)
