"""When a time-limited role ends: reading what a person typed, refusing what
cannot be, and saying it in words.

An expiry is a moment in UTC (pages say so). It is typed as a date and time,
``2026-12-31 17:00`` (or ISO 8601's ``2026-12-31T17:00``), or as a date alone,
``2026-12-31``, which means 00:00 UTC that day: the role grants nothing from
that moment on. JSON may send ISO 8601 with ``Z`` or an offset (converted to
UTC). Blank means "never expires". Whether
the moment has passed is the one clock's (portal.infra.clock).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from portal.infra import clock

# What the field, the command line and JSON take, for messages.
FORMATS = "YYYY-MM-DD or YYYY-MM-DD HH:MM (UTC)"


class ExpiryError(ValueError):
    """An expiry that cannot be used; str() says why, for the person."""


def parse_expiry(text: str | None) -> datetime | None:
    """The UTC moment text names (None: blank, never expires); ExpiryError if
    it names none."""
    value = (text or "").strip()
    if not value:
        return None
    if len(value) > 40:
        raise ExpiryError(f"Enter the expiry as {FORMATS}.")
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ExpiryError(
            f"{value!r} is not a date. Enter the expiry as {FORMATS}."
        ) from None
    try:
        # An offset that moves the moment past year 1 or 9999 cannot be said
        # in UTC (OverflowError): no usable expiry either.
        return (
            moment.replace(tzinfo=UTC)
            if moment.tzinfo is None
            else moment.astimezone(UTC)
        )
    except OverflowError:
        raise ExpiryError(
            f"{value!r} is out of range. Enter the expiry as {FORMATS}."
        ) from None


def check_future(expires_at: datetime | None) -> None:
    """Refuse an expiry that is not later than now (None: never, fine)."""
    if expires_at is None:
        return
    now = clock.now()
    if clock.as_utc(expires_at) <= now:
        raise ExpiryError(
            f"The expiry {long_form(expires_at)} has passed (it is now"
            f" {long_form(now)}). Choose a later time, or none."
        )


def iso(expires_at: datetime | None) -> str | None:
    """expires_at in ISO 8601, UTC ("2026-12-31T00:00:00Z"), for JSON and the
    audit trail; None for never."""
    if expires_at is None:
        return None
    return clock.as_utc(expires_at).isoformat().replace("+00:00", "Z")


def long_form(expires_at: datetime) -> str:
    """ "31 Dec 2026, 00:00 UTC"."""
    moment = clock.as_utc(expires_at)
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"


def short_date(expires_at: datetime) -> str:
    """ "5 Dec 2026"."""
    moment = clock.as_utc(expires_at)
    return f"{moment.day} {moment:%b %Y}"


def field_value(expires_at: datetime | None) -> str:
    """expires_at as the form's field shows it ("2026-12-31 17:00"); "" for
    never."""
    if expires_at is None:
        return ""
    return clock.as_utc(expires_at).strftime("%Y-%m-%d %H:%M")


def describe(expires_at: datetime | None) -> str | None:
    """How a page says when a role ends: "expires in 3 days", "expires in 5
    hours", "expired on 5 Dec 2026"; None for a role that never expires."""
    if expires_at is None:
        return None
    left = clock.as_utc(expires_at) - clock.now()
    if left <= timedelta(0):
        return f"expired on {short_date(expires_at)}"
    if left >= timedelta(days=2):
        return f"expires in {left.days} days"
    if left >= timedelta(days=1):
        return "expires in 1 day"
    hours = int(left.total_seconds() // 3600)
    if hours >= 1:
        return f"expires in {hours} hour{'s' if hours != 1 else ''}"
    minutes = max(1, int(left.total_seconds() // 60))
    return f"expires in {minutes} minute{'s' if minutes != 1 else ''}"


def expired(expires_at: datetime | None) -> bool:
    """Whether a role with this expiry has expired by now."""
    return expires_at is not None and clock.as_utc(expires_at) <= clock.now()


def audit_time(value: str | None) -> str:
    """An audit entry's ISO 8601 time (iso()) in words ("31 Dec 2026, 00:00
    UTC"); "never" for None, and anything else as written (entries are never
    rewritten)."""
    if value is None:
        return "never"
    try:
        moment = parse_expiry(value)
    except ExpiryError:
        return value
    return value if moment is None else long_form(moment)
