"""Password reset: "forgot my password" requests, their throttle, and their links.

A request for an email is answered the same whether or not an account uses it;
the work behind the answer has the same shape too (lock, prune, two counts, one
lookup, one insert) and hashes no password either way, so neither the words nor
the time say which emails have accounts. Only for a known email under its cap
does the row get a token and a mail go to the outbox.

Every request is a PasswordReset row, so the throttle (like the login
throttle, portal.domain.throttle) lives in the database and holds across
processes: at most MAILS_PER_EMAIL mails per email per WINDOW (past that the
answer is the same, without a mail), and at most REQUESTS_PER_CLIENT requests
per client per WINDOW (past that, Throttled: 429). Counting and recording
happen under a lock on the email (SQLite: the writer transaction; PostgreSQL:
an advisory lock), so a burst cannot all pass the count before one is recorded.
Rows older than KEEP are deleted by the requests for their email or client, and
by ``flask prune-password-resets`` for the rest: the table stays bounded by
the client cap.

A link works once, for TOKEN_LIFETIME: using it sets the password, rotates the
session token (every session of the account ends) and spends every other link
of the account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from math import ceil

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from portal.domain import throttle
from portal.domain.models import (
    PasswordReset,
    User,
    hash_link_token,
    new_link_token,
    normalize_email,
)
from portal.infra.clock import as_utc

#: How long a mailed link works.
TOKEN_LIFETIME = timedelta(hours=1)
#: The window both caps count in.
WINDOW = timedelta(hours=1)
#: Mails one email may be sent per WINDOW (more requests: same answer, no mail).
MAILS_PER_EMAIL = 3
#: Requests one client address may make per WINDOW (more: 429).
REQUESTS_PER_CLIENT = 20
#: How long a request's row is kept: past its link's life, so that an expired
#: link is told apart from a wrong one (410, not 404) for a day.
KEEP = timedelta(days=1)

#: A link token as new_link_token makes it (43 URL-safe characters); anything
#: else is refused before the database is asked.
TOKEN_LENGTH = 43
_TOKEN_ALPHABET = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)


@dataclass(frozen=True)
class Requested:
    """A request recorded. token: the link's secret, if a mail is to be sent
    (a known email under its cap), for the caller to put in the mail."""

    token: str | None
    user_id: int | None


@dataclass(frozen=True)
class Throttled:
    """Too many requests from this client: none recorded; try after wait."""

    wait: timedelta


def request_reset(
    session: Session, email: str, client: str, now: datetime
) -> Requested | Throttled:
    """Record a reset request for email from client (caller commits).

    The caller queues the mail when Requested.token is set, in the same
    transaction, so the row and its mail commit together.
    """
    email = normalize_email(email)[:254]
    client = client[:64]
    _lock(session, "password_reset:" + email)
    _lock(session, "password_reset_client:" + client)
    session.execute(
        delete(PasswordReset).where(
            or_(PasswordReset.email == email, PasswordReset.client == client),
            PasswordReset.at <= now - KEEP,
        )
    )
    since = now - WINDOW
    from_client, oldest = session.execute(
        select(func.count(), func.min(PasswordReset.at)).where(
            PasswordReset.client == client, PasswordReset.at > since
        )
    ).one()
    if from_client >= REQUESTS_PER_CLIENT:
        wait = as_utc(oldest) + WINDOW - now
        return Throttled(max(wait, timedelta(seconds=1)))
    mailed = session.scalar(
        select(func.count()).where(
            PasswordReset.email == email,
            PasswordReset.at > since,
            PasswordReset.token_hash.is_not(None),
        )
    )
    user_id = session.scalar(select(User.id).where(User.email == email))
    row = PasswordReset(email=email, client=client, at=now)
    token = None
    if user_id is not None and (mailed or 0) < MAILS_PER_EMAIL:
        token, row.token_hash = new_link_token()
        row.user_id = user_id
        row.expires_at = now + TOKEN_LIFETIME
    session.add(row)
    session.flush()
    return Requested(token, user_id if token is not None else None)


def prune(session: Session, now: datetime) -> int:
    """Delete every request older than KEEP (caller commits); how many."""
    result = session.execute(
        delete(PasswordReset).where(PasswordReset.at <= now - KEEP)
    )
    return int(getattr(result, "rowcount", 0) or 0)


class LinkState(Enum):
    """What a link's token is worth now."""

    USABLE = "usable"
    UNKNOWN = "unknown"  # malformed, never issued, or pruned
    EXPIRED = "expired"
    USED = "used"


@dataclass(frozen=True)
class Link:
    """A link's state and, when it is usable, whose password it sets."""

    state: LinkState
    user_id: int | None = None
    email: str | None = None


def well_formed(token: str) -> bool:
    """Whether token could be a link token at all."""
    return len(token) == TOKEN_LENGTH and set(token) <= _TOKEN_ALPHABET


def find_link(session: Session, token: str, now: datetime, lock: bool = False) -> Link:
    """What token opens now; lock: lock its row until the transaction ends (to
    use it)."""
    if not well_formed(token):
        return Link(LinkState.UNKNOWN)
    query = select(PasswordReset).where(
        PasswordReset.token_hash == hash_link_token(token)
    )
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None or row.user_id is None or row.expires_at is None:
        return Link(LinkState.UNKNOWN)
    if row.used_at is not None:
        return Link(LinkState.USED)
    if as_utc(row.expires_at) <= now:
        return Link(LinkState.EXPIRED)
    user = session.get(User, row.user_id)
    if user is None:
        return Link(LinkState.UNKNOWN)
    return Link(LinkState.USABLE, user.id, user.email)


class LinkNotUsable(Exception):
    """The link was used, expired or unknown by the time it was submitted."""

    def __init__(self, link: Link) -> None:
        super().__init__(link.state.value)
        self.link = link


def use_link(session: Session, token: str, new_hash: str, now: datetime) -> User:
    """Set the password of token's account to new_hash, rotate its session token
    and spend every unused link of the account, this one included (caller
    commits). Raises LinkNotUsable, writing nothing, if the link no longer
    works (another request used it meanwhile, say).
    """
    link = find_link(session, token, now, lock=True)
    if link.state is not LinkState.USABLE or link.user_id is None:
        raise LinkNotUsable(link)
    user = session.get(User, link.user_id, with_for_update=True)
    if user is None:
        raise LinkNotUsable(Link(LinkState.UNKNOWN))
    set_password(session, user, new_hash, now)
    return user


def set_password(session: Session, user: User, new_hash: str, now: datetime) -> None:
    """Give user the password hashed as new_hash, however it was decided (a
    link, an administrator): their session token rotates (every session of the
    account ends), every unused link of theirs is spent, and their login
    failures are forgotten (caller commits; lock the user's row first)."""
    user.password_hash = new_hash
    user.rotate_session_token()  # every copy of every older cookie stops working
    spend_links(session, user.id, now)
    throttle.succeeded(session, user.email)


def spend_links(session: Session, user_id: int, now: datetime) -> None:
    """Mark every unused link of user_id as used (caller commits): after a new
    password, however it was set, no older link may set another."""
    session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.user_id == user_id,
            PasswordReset.used_at.is_(None),
            PasswordReset.token_hash.is_not(None),
        )
        .values(used_at=now)
    )


def _lock(session: Session, key: str) -> None:
    # SQLite: the request's writer transaction (BEGIN IMMEDIATE) already holds
    # the database's write lock. PostgreSQL: serialize the requests for this
    # email, then those from this client (always in that order: no deadlock),
    # on keys apart from the login throttle's.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key}
        )


def retry_after(wait: timedelta) -> dict[str, str]:
    """The Retry-After header of a 429 for a throttled client."""
    return {"Retry-After": str(ceil(wait.total_seconds()))}


def in_words(span: timedelta) -> str:
    """A link's lifetime as pages and mails say it: "one hour", "90 minutes"."""
    minutes = int(span.total_seconds() // 60)
    if minutes == 60:
        return "one hour"
    if minutes % 60 == 0:
        return f"{minutes // 60} hours"
    return f"{minutes} minutes"


def too_many_requests(wait: timedelta) -> str:
    """The message for a throttled client."""
    minutes = max(1, ceil(wait.total_seconds() / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return (
        "Too many password reset requests from your network. Try again in"
        f" {minutes} {unit}."
    )
