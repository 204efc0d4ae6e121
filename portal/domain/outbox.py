"""The outbox: mail is written in the transaction of the change that causes it.

A change that sends mail (an invitation, a password reset) calls ``enqueue`` on
the session it changes things in and leaves the commit to its caller, like every
domain function. The mail then exists exactly when the change does: none is lost
when the request commits, none is sent when it rolls back. Delivering it is the
sender's job (portal.mail), never the request's, so a slow or broken mail server
costs a request nothing.

Header injection is refused here, where every message is made: an address or a
subject with a line break (or any other control character) raises
``UnsafeHeader`` and nothing is queued. Bodies are plain text and may hold any
line breaks.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from portal.domain.models import OutboxMessage

#: Control characters (CR and LF above all) that would start a new header.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]")


class UnsafeHeader(ValueError):
    """An address or a subject that would inject a header."""


def header_safe(value: str) -> bool:
    """Whether value can go into a mail header as it is (no line break or other
    control character)."""
    return _CONTROL.search(value) is None


def enqueue(
    session: Session, *, kind: str, to: str, subject: str, body: str
) -> OutboxMessage:
    """Queue one plain-text mail in session's transaction (due at once)."""
    for value in (to, subject):
        if not header_safe(value):
            raise UnsafeHeader(f"a line break or control character in {value!r}")
    message = OutboxMessage(kind=kind, to_address=to, subject=subject, body=body)
    session.add(message)
    return message
