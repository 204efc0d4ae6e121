"""Login throttling per account: 10 failures within 15 minutes pause logins for it.

Counted per email as typed (normalized), whether or not an account exists, so the
throttle itself does not reveal which emails have accounts. The pause ends by
itself when the oldest failure in the window ages out: no permanent lock-out that
an attacker could use to keep a user out for good.

An attempt is recorded as *pending* before the slow password check; once checked,
a wrong password settles it as a failure and a right one deletes the email's rows.
Only failures count towards the limit, so a right password is never refused
because other attempts are still being checked. But no attempt starts while the
failures and the attempts in flight together reach the limit (it waits, see
portal.web.throttling): every attempt in flight could be a wrong guess, so at
most 10 wrong passwords are ever checked per window, however many arrive at once.
Counting and recording happen under a lock on the email (SQLite: the writer
transaction; PostgreSQL: an advisory lock), so a burst of parallel attempts
cannot all pass the count before any of them is recorded.

An attempt whose check never ended (its process died) counts as a failure once it
is PENDING_TTL old, and goes with the window like any failure: nothing in flight
is left behind for good, and a crash mid-check is no free guess.

A small table rather than Flask-Limiter: the `limits` storages are memory, Redis,
Memcached, MongoDB and etcd, and the counters must live in our own database to
hold across processes without new infrastructure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil

from sqlalchemy import ColumnElement, case, delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from portal.domain.models import LoginFailure

MAX_FAILURES = 10
WINDOW = timedelta(minutes=15)
# Far longer than an attempt takes (it waits portal.web.throttling.MAX_WAIT at
# most, then checks one password); one pending for longer died with its process,
# or could not be settled.
PENDING_TTL = timedelta(minutes=1)


@dataclass(frozen=True)
class Attempt:
    """An attempt recorded as pending: its password may now be checked."""

    id: int
    email: str


@dataclass(frozen=True)
class Throttled:
    """Too many failures: no attempt for email until wait has passed."""

    wait: timedelta


@dataclass(frozen=True)
class Crowded:
    """Failures and attempts in flight reach the limit, failures alone do not:
    try again once some of those in flight are settled."""


def start_attempt(
    session: Session, email: str, now: datetime
) -> Attempt | Throttled | Crowded:
    """Record a pending attempt for email, or say why not (recording nothing).

    The caller commits before the slow password check (the lock on email is held
    until then), then calls failed() or succeeded() in a transaction of its own.
    """
    email = email[:254]
    _lock(session, email)
    # This email's expired rows only: deleting every email's, on every
    # attempt, made logins for different emails wait on each other's rows
    # (PostgreSQL). Emails nobody tries again: `flask prune-login-failures`.
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.email == email, LoginFailure.at <= now - WINDOW
        )
    )
    outcome = _outcome(session, email, now)
    if outcome is not None:
        return outcome
    attempt = LoginFailure(email=email, at=now, pending=True)
    session.add(attempt)
    session.flush()
    return Attempt(attempt.id, email)


def crowded(session: Session, email: str, now: datetime) -> bool:
    """Whether start_attempt would say Crowded (a read: no lock, no write)."""
    return isinstance(_outcome(session, email[:254], now), Crowded)


def failed(session: Session, attempt: Attempt) -> None:
    """Settle attempt as a failure (caller commits).

    If a right password for the email was found meanwhile, succeeded() deleted
    the attempt along with the failures, and it stays forgotten.
    """
    session.execute(
        update(LoginFailure).where(LoginFailure.id == attempt.id).values(pending=False)
    )


def prune(session: Session, now: datetime) -> int:
    """Delete every email's expired failures (caller commits); how many."""
    result = session.execute(
        delete(LoginFailure).where(LoginFailure.at <= now - WINDOW)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def succeeded(session: Session, email: str) -> None:
    """Forget email's failures and attempts, the one just made included (caller
    commits)."""
    session.execute(delete(LoginFailure).where(LoginFailure.email == email[:254]))


def _outcome(session: Session, email: str, now: datetime) -> Throttled | Crowded | None:
    """Why no attempt may start for email now; None if one may."""
    counted = _counted(now)
    failures, in_flight, oldest = session.execute(
        select(
            func.count(case((counted, 1))),
            func.count(case((~counted, 1))),
            func.min(case((counted, LoginFailure.at))),
        ).where(LoginFailure.email == email, LoginFailure.at > now - WINDOW)
    ).one()
    if failures >= MAX_FAILURES:
        return Throttled(max(_aware(oldest, now) + WINDOW - now, timedelta(seconds=1)))
    if failures + in_flight >= MAX_FAILURES:
        return Crowded()
    return None


def _counted(now: datetime) -> ColumnElement[bool]:
    """Rows that count as failures: settled ones, and attempts that died."""
    return or_(LoginFailure.pending.is_(False), LoginFailure.at <= now - PENDING_TTL)


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


# What an attempt that waited throttling.MAX_WAIT for attempts in flight is told.
CROWDED = (
    "Many logins for this account are being checked right now. Try again in a few"
    " seconds."
)
CROWDED_RETRY_AFTER = {"Retry-After": "2"}


def too_many_failures(wait: timedelta) -> str:
    """The message for a throttled account."""
    minutes = max(1, ceil(wait.total_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return (
        "Too many failed logins for this account. For its protection, logging in"
        f" is paused: try again in {minutes} {unit}."
    )
