"""The one clock: every time Portal reads or stores comes from ``now()``.

Session expiry, login throttling and the times stored with rows (``created_at``,
later audit entries and invitation expiry) all follow it, so a test that sets
``app.config["CLOCK"]`` moves all of them together.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, has_app_context


def now() -> datetime:
    """The current UTC time: the app's CLOCK if it has one, else the system's.

    Outside an app context (a bare script working on a session) the system's.
    """
    if has_app_context():
        clock = current_app.config.get("CLOCK")
        if clock is not None:
            moment: datetime = clock()
            return moment
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A stored time in UTC, whichever database returned it.

    SQLite keeps no offset and returns naive times, which are UTC because every
    stored time came from now(); PostgreSQL returns them in the session's time
    zone.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
