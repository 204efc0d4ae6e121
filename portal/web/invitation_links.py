"""Invitations' helpers for the web: the link a mail carries (the CLI's
``invite`` prints it), and where a request that reads may retire expired
invitations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import request
from sqlalchemy.orm import Session

from portal.infra import db
from portal.web.links import public_url


def invitation_link(token: str) -> str:
    """The absolute address of the invitation page for token, under PUBLIC_URL."""
    return public_url("invitations.invitation_show", token=token)


@contextmanager
def writing() -> Iterator[Session]:
    """A transaction that writes, committed when the block ends: the request's
    own session when the request writes (on SQLite it holds the write lock
    already: a second writer would wait for it forever), else a writer session
    of its own (a GET's session reads)."""
    if request.method not in db.SAFE_METHODS:
        session = db.get_session()
        with db.transaction(session):
            yield session
        return
    with db.writer_session() as writer:
        yield writer
