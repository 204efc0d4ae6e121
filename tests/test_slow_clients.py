"""A client whose request body is slow costs nobody but itself.

A real threaded server (Werkzeug's, as `make run` serves) on each backend. A
writing request whose body stops arriving used to hold the request's transaction
(SQLite: the database-wide write lock; PostgreSQL: the organization's row lock)
until the body came or the client left: logins and role changes of every tenant
waited 30 s (SQLite), or hung with no bound (PostgreSQL). The body is now read
before the first statement, and a stalled read is answered 408.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from portal.domain import demo
from tests.conftest import role_of
from tests.routes import MATRIX
from tests.test_security import HttpUser

# why: these tests measure how long others wait; alone, the parallel part cannot
# slow them down (see scripts/run-tests.sh)
pytestmark = pytest.mark.serial

STALL = 2.0  # the server's BODY_READ_TIMEOUT in these tests
FAST = 1.0  # "well under a second", with room for a busy machine
GEORGE_ID = demo.USERS.index(demo.GEORGE) + 1


@pytest.fixture
def url(app: Flask) -> Iterator[str]:
    """app on Werkzeug's threaded server, with a short body read timeout."""
    app.config["BODY_READ_TIMEOUT"] = STALL
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@dataclass(frozen=True)
class Slow:
    """A writing request that sends its headers and a first piece of its body,
    then goes silent."""

    email: str
    path: str
    content_type: str
    chunked: bool = False


SLOW = {
    # Someone with no role at all, changing their password (JSON: no CSRF hook
    # reads the body first).
    "json": Slow(demo.ADMIN, "/account/password", "application/json"),
    "form": Slow(demo.ADMIN, "/account/password", "application/x-www-form-urlencoded"),
    "chunked": Slow(demo.ADMIN, "/account/password", "application/json", chunked=True),
    # A billing manager leaving The Beatles: the organization's row is locked
    # for the change (PostgreSQL's case).
    "leave": Slow(demo.GEORGE, f"/orgs/1/roles/{GEORGE_ID}/delete", "application/json"),
}


class SlowRequest:
    """Slow's request on a raw socket, stalled after 5 bytes of its body."""

    def __init__(self, url: str, slow: Slow, user: HttpUser) -> None:
        parts = urlsplit(url)
        assert parts.hostname is not None and parts.port is not None
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
        token = user.csrf_token()
        headers = [
            f"POST {slow.path} HTTP/1.1",
            f"Host: {parts.netloc}",
            f"Cookie: {user.cookie_header()}",
            f"X-CSRFToken: {token}",
            f"Content-Type: {slow.content_type}",
            "Accept: application/json",
        ]
        piece = b'{"cur'
        if slow.chunked:
            headers.append("Transfer-Encoding: chunked")
            first = b"%x\r\n%s" % (83, piece)  # a chunk of 83 bytes, 5 sent
        else:
            headers.append("Content-Length: 83")
            first = piece
        self.sock.sendall(("\r\n".join(headers) + "\r\n\r\n").encode() + first)
        self.sent_at = time.monotonic()

    def answer(self) -> tuple[int, float]:
        """The status the server answered with, and when (seconds after sending)."""
        data = b""
        while b"\r\n" not in data:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            data += chunk
        status = int(data.split(b" ", 2)[1]) if data else 0
        return status, time.monotonic() - self.sent_at

    def close(self) -> None:
        """Hang up."""
        self.sock.close()


def _timed(action: Callable[[], object]) -> float:
    """How many seconds action took."""
    start = time.monotonic()
    action()
    return time.monotonic() - start


def _others(url: str) -> dict[str, Callable[[], object]]:
    """What other people do meanwhile: log in, and change roles in the same and
    in another organization (each through the forms of the route matrix)."""
    john, mike = HttpUser(url), HttpUser(url)
    john.login(demo.JOHN)
    mike.login(demo.MIKE)
    form = MATRIX[("members.role_create", "POST")].form
    assert form is not None

    def add(user: HttpUser, org_id: int, email: str) -> None:
        data = {**form(user.email), "user_email": email}
        status = user.post_form(f"/orgs/{org_id}/roles", data)
        assert status == 302, status

    return {
        "login": lambda: HttpUser(url).login(demo.PAUL),
        "change in the same organization": lambda: add(john, 1, demo.ADMIN),
        "change in another organization": lambda: add(mike, 2, demo.GEORGE),
    }


@pytest.mark.parametrize("kind", list(SLOW))
def test_slow_body_holds_nobody_else(url: str, db: Session, kind: str) -> None:
    slow = SLOW[kind]
    sender = HttpUser(url)
    sender.login(slow.email)
    others = _others(url)
    request = SlowRequest(url, slow, sender)
    try:
        time.sleep(0.3)  # the server has the headers and is waiting for the rest
        waited = {what: _timed(action) for what, action in others.items()}
        status, after = request.answer()
    finally:
        request.close()
    assert all(seconds < FAST for seconds in waited.values()), waited
    assert status == 408 and STALL - 0.5 < after < STALL + 3, (status, after)
    assert role_of(db, demo.GEORGE, demo.BEATLES_ID) == "BILLING"  # nothing left
