"""Login throttling per account: 10 failures within 15 minutes pause logins for it.

Counted per email as typed (normalized), whether or not an account exists, so the
throttle itself does not reveal which emails have accounts. The pause ends by
itself when the oldest failure in the window ages out: no permanent lock-out that
an attacker could use to keep a user out for good.

An attempt is recorded as a failure *before* the slow password check and taken
back if the password was right. Counting and recording happen under a lock on the
email (SQLite: the writer transaction; PostgreSQL: an advisory lock), so a burst
of parallel guesses cannot all pass the count before any of them is recorded.

A small table rather than Flask-Limiter: the `limits` storages are memory, Redis,
Memcached, MongoDB and etcd, and the counters must live in our own database to
hold across processes without new infrastructure.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from math import ceil

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from portal.domain.models import LoginFailure

MAX_FAILURES = 10
WINDOW = timedelta(minutes=15)


def start_attempt(session: Session, email: str, now: datetime) -> timedelta | None:
    """Count an attempt for email, or say how long it must wait (and count nothing).

    The caller commits before the slow password check (the lock on email is held
    until then). Call succeeded() if the password turns out to be right.
    """
    email = email[:254]
    _lock(session, email)
    # This email's expired failures only: deleting every email's, on every
    # attempt, made logins for different emails wait on each other's rows
    # (PostgreSQL). Emails nobody tries again: `flask prune-login-failures`.
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.email == email, LoginFailure.at <= now - WINDOW
        )
    )
    count, oldest = session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(
            LoginFailure.email == email, LoginFailure.at > now - WINDOW
        )
    ).one()
    if count >= MAX_FAILURES:
        return max(_aware(oldest, now) + WINDOW - now, timedelta(seconds=1))
    session.add(LoginFailure(email=email, at=now))
    return None


def prune(session: Session, now: datetime) -> int:
    """Delete every email's expired failures (caller commits); how many."""
    result = session.execute(
        delete(LoginFailure).where(LoginFailure.at <= now - WINDOW)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def succeeded(session: Session, email: str) -> None:
    """Forget email's failures, the attempt just made included (caller commits)."""
    session.execute(delete(LoginFailure).where(LoginFailure.email == email[:254]))


def _lock(session: Session, email: str) -> None:
    # SQLite: the request's writer transaction (BEGIN IMMEDIATE) already holds the
    # database's write lock. PostgreSQL: serialize attempts on this email only.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:email))"), {"email": email}
        )


def _aware(value: datetime, like: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they are UTC.
    if value.tzinfo is None and like.tzinfo is not None:
        return value.replace(tzinfo=like.tzinfo)
    return value


def retry_after(wait: timedelta) -> dict[str, str]:
    """The Retry-After header of a 429 for a throttled account."""
    return {"Retry-After": str(ceil(wait.total_seconds()))}


def too_many_failures(wait: timedelta) -> str:
    """The message for a throttled account."""
    minutes = max(1, ceil(wait.total_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return (
        "Too many failed logins for this account. For its protection, logging in"
        f" is paused: try again in {minutes} {unit}."
    )
