"""Login throttling per account: 10 failures within 15 minutes pause logins for it.

Counted per email as typed (normalized), whether or not an account exists, so the
throttle itself does not reveal which emails have accounts. The pause ends by
itself when the oldest failure in the window ages out: no permanent lock-out that
an attacker could use to keep a user out for good.

A small table rather than Flask-Limiter: the `limits` storages are memory, Redis,
Memcached, MongoDB and etcd, and the counters must live in our own database to
hold across processes without new infrastructure.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from portal.models import LoginFailure

MAX_FAILURES = 10
WINDOW = timedelta(minutes=15)


def retry_after(session: Session, email: str, now: datetime) -> timedelta | None:
    """How long until email may try again, or None if it may try now."""
    since = now - WINDOW
    count, oldest = session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(
            LoginFailure.email == email, LoginFailure.at > since
        )
    ).one()
    if count < MAX_FAILURES:
        return None
    oldest = _aware(oldest, now)
    return max(oldest + WINDOW - now, timedelta(seconds=1))


def record_failure(session: Session, email: str, now: datetime) -> None:
    """Count one failed login for email, and forget failures older than the window."""
    session.execute(delete(LoginFailure).where(LoginFailure.at <= now - WINDOW))
    session.add(LoginFailure(email=email[:254], at=now))
    session.commit()


def clear_failures(session: Session, email: str) -> None:
    """Forget email's failures after a successful login."""
    session.execute(delete(LoginFailure).where(LoginFailure.email == email))


def _aware(value: datetime, like: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they are UTC.
    if value.tzinfo is None and like.tzinfo is not None:
        return value.replace(tzinfo=like.tzinfo)
    return value
