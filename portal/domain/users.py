"""Changes to a user's own account that must not interleave with each other.

A password change verifies the current password against the hash read at the
start of the request, without holding any lock: the check is deliberately slow.
The write then locks the user's row (PostgreSQL: FOR UPDATE; SQLite: the writer
transaction from portal.infra.db already holds the database's write lock) and goes
ahead only if the row still holds what was verified. Otherwise another request
changed the password or ended the session in between, and this one is refused:
two changes at the same moment can no longer both report success.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from portal.domain.models import User

CHANGED_MEANWHILE = (
    "Your password was not changed: another session changed this account at the"
    " same moment (a new password or a logout). Please log in again."
)


class AccountChangedMeanwhile(Exception):
    """The account changed after this request read it; nothing was written."""

    def __init__(self) -> None:
        super().__init__(CHANGED_MEANWHILE)


@dataclass(frozen=True)
class Seen:
    """What a request read of the account before its slow password check."""

    password_hash: str
    session_token: str

    @classmethod
    def of(cls, user: User) -> Seen:
        """The user's password hash and session token as loaded now."""
        return cls(user.password_hash, user.session_token)


def change_password(session: Session, user: User, seen: Seen, new_hash: str) -> None:
    """Store new_hash and rotate the session token, if the account is still as seen.

    Locks the user's row until the transaction ends; the caller commits. Raises
    AccountChangedMeanwhile, writing nothing, if another request got there first.
    """
    session.refresh(user, with_for_update=True)
    if Seen.of(user) != seen:
        raise AccountChangedMeanwhile()
    user.password_hash = new_hash
    user.rotate_session_token()  # every copy of every older cookie stops working


def confirm_login(
    session: Session, user: User, seen: Seen, rehash: str | None = None
) -> None:
    """Lock the user's row and check that the password just verified is still theirs.

    A password change that committed during the slow check must win: without
    this, the login would start a session on the new token with the old
    password. Stores rehash (the same password at today's parameters) if given.
    Raises AccountChangedMeanwhile, writing nothing, if the password changed.
    """
    session.refresh(user, with_for_update=True)
    if user.password_hash != seen.password_hash:
        raise AccountChangedMeanwhile()
    if rehash is not None:
        user.password_hash = rehash
