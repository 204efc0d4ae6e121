"""`make serve`'s server for real: gunicorn with gunicorn.conf.py, on 127.0.0.1,
against a per-test PostgreSQL schema.

Every server is started with a time limit and stopped (its whole process group)
when the test ends.
"""

from __future__ import annotations

import contextlib
import http.client
import http.cookiejar
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.orm import Session

from portal.domain import demo
from portal.domain.models import AuditEntry, Invitation, OrganizationRole, User
from portal.infra import migrate
from tests.conftest import CSRF_RE
from tests.database import PostgresSchemas
from tests.routes import TARGET_ID, TARGET_ROLE_ID
from tests.tcpproxy import TcpProxy
from tests.test_errors import through
from tests.test_health import closed_port, migrate_to

# why: gunicorn servers and races measure time and contention; alone they
# neither slow the parallel part nor get slowed by it (see the Makefile).
pytestmark = pytest.mark.serial

ROOT = Path(__file__).resolve().parents[1]
GUNICORN = Path(sys.executable).parent / "gunicorn"
START_TIMEOUT = 30.0


@dataclass
class Server:
    """A running gunicorn: its arbiter, address and log file."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def workers(self) -> list[int]:
        """The arbiter's worker processes (children, from /proc)."""
        return children(self.process.pid)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def children(pid: int) -> list[int]:
    """Ids of pid's living child processes."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # Fields after the command name, which is in parentheses: state, ppid.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.append(int(entry.name))
    return found


def start_server(
    database_url: str,
    log: Path,
    workers: int = 1,
    wait: bool = True,
    environment: dict[str, str] | None = None,
) -> Server:
    """gunicorn --config gunicorn.conf.py on a free 127.0.0.1 port, with
    environment's variables on top of the test's."""
    env = {
        **os.environ,
        "SECRET_KEY": "serve-test-key",
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(closed_port()),
        "WEB_CONCURRENCY": str(workers),
        "PORTAL_HTTPS": "0",  # urllib would not send a Secure cookie over http
        **(environment or {}),
    }
    with log.open("wb") as out:  # the server writes to its own copy
        process = subprocess.Popen(
            [str(GUNICORN), "--config", "gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, to clean up whole
        )
    server = Server(process, f"http://127.0.0.1:{env['PORT']}", log)
    if wait:
        wait_until_healthy(server)
    return server


def wait_until_healthy(server: Server, timeout: float = START_TIMEOUT) -> None:
    """Poll /healthz until it answers 200 (or fail after timeout seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.output()
        if get(server.url + "/healthz")[0] == 200:
            return
        time.sleep(0.1)
    pytest.fail(f"no healthy server within {timeout}s:\n{server.output()}")


def stop_server(server: Server) -> None:
    """SIGTERM (graceful), then SIGKILL the whole group if it lingers."""
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):  # no workers left behind
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=5)


def get(url: str) -> tuple[int, str]:
    """(status, body) of a GET; (0, reason) if no answer."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (OSError, http.client.HTTPException) as error:
        return 0, repr(error)


@pytest.fixture
def server(pg_url: str, tmp_path: Path) -> Iterator[Server]:
    running = start_server(pg_url, tmp_path / "gunicorn.log")
    yield running
    stop_server(running)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Report a 302 instead of following it."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    """A logged-in client: cookies, CSRF token, no redirects followed."""

    def __init__(self, base: str, email: str | None) -> None:
        """A browser on base, logged in as email (None: stays anonymous)."""
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirects()
        )
        self.token = self._token("/login")
        if email is not None:
            data = {"email": email, "password": demo.PASSWORD}
            assert self.post("/login", data) == 302
            self.token = self._token("/orgs/1/roles")

    def _token(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=10) as response:
            match = CSRF_RE.search(response.read().decode())
        assert match, path
        return match.group(1)

    def get(self, path: str) -> tuple[int, str]:
        """(status, body) of a GET."""
        try:
            with self.opener.open(self.base + path, timeout=10) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def post(self, path: str, data: dict[str, str]) -> int:
        """The status of a form POST; 0 if the connection died without one."""
        body = urllib.parse.urlencode({**data, "csrf_token": self.token}).encode()
        try:
            with self.opener.open(self.base + path, body, timeout=20) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code
        except (OSError, http.client.HTTPException):
            return 0


def test_serve_answers_health_and_logs_to_stdout(server: Server) -> None:
    assert get(server.url + "/healthz") == (200, '{"database":"ok","status":"ok"}\n')
    browser = Browser(server.url, demo.JOHN)
    assert browser.post(RINGO_PAGE, RINGO_TO_BILLING) == 302
    # A link's single-use token never reaches the log (the request line, or a
    # login redirect's next=): whoever reads the log could use it.
    token = "t0ken" * 9
    assert get(f"{server.url}/invitations/{token}")[0] == 404
    assert get(f"{server.url}/password/reset/{token}")[0] == 404
    stop_server(server)
    output = server.output()
    assert "[INFO] gunicorn.error: Using worker: gthread" in output
    assert '"GET /healthz HTTP/1.1" 200' in output  # the access log
    assert '"GET /invitations/[token] HTTP/1.1" 404' in output
    assert '"GET /password/reset/[token] HTTP/1.1" 404' in output
    assert token not in output
    assert re.search(r"\[INFO\] portal: role changed: org=1 user=\d+ actor=", output)
    assert demo.PASSWORD not in output


def test_serve_refuses_to_start_without_its_database(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/test"
    server = start_server(url, tmp_path / "gunicorn.log", wait=False)
    try:
        status = server.process.wait(timeout=START_TIMEOUT)
    finally:
        stop_server(server)
    assert status != 0
    output = server.output()
    assert "Portal cannot start: The database at" in output
    assert "Start the database or fix DATABASE_URL." in output
    assert "Traceback" not in output


def test_serve_refuses_to_start_on_a_schema_behind_the_code(
    postgres: PostgresSchemas, tmp_path: Path
) -> None:
    # why: started anyway, it would fail request by request (a table missing)
    url = postgres.create()  # a schema of its own: the test leaves it behind head
    try:
        migrate_to(url, "-1")
        server = start_server(url, tmp_path / "gunicorn.log", wait=False)
        try:
            status = server.process.wait(timeout=START_TIMEOUT)
        finally:
            stop_server(server)
    finally:
        postgres.drop(url)
    assert status != 0
    output = server.output()
    (line,) = [line for line in output.splitlines() if "Portal cannot start" in line]
    assert f"behind this release's {migrate.head_revision()}" in line
    assert line.endswith("run `flask --app portal db upgrade` first.")
    assert "Traceback" not in output
    assert "Booting worker" not in output  # refused before forking any


def test_serve_answers_503_while_the_database_is_away_and_recovers(
    pg_url: str, tmp_path: Path
) -> None:
    parts = urlsplit(pg_url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    proxy.start()
    server = start_server(through(pg_url, proxy.port), tmp_path / "gunicorn.log")
    try:
        browser = Browser(server.url, demo.JOHN)
        proxy.stop()
        assert get(server.url + "/healthz")[0] == 503
        status, page = browser.get("/orgs/1")
        assert status == 503 and "The database is not answering" in page
        assert browser.post(RINGO_PAGE, {"name": "BILLING"}) == 503
        proxy.start()
        wait_until_healthy(server, timeout=10)
        assert browser.post(RINGO_PAGE, RINGO_TO_BILLING) == 302
        assert browser.get("/orgs/1")[0] == 200
    finally:
        stop_server(server)
        proxy.stop()


def _roles(url: str) -> dict[str, str]:
    """Everyone's role in The Beatles by email, read straight from the database."""
    engine = create_engine(url)
    with Session(engine) as session:
        rows = session.execute(
            select(User.email, OrganizationRole.name)
            .join(User)
            .where(OrganizationRole.organization_id == 1)
        ).all()
    engine.dispose()
    return dict(rows)


def _invitations(url: str) -> dict[str, str]:
    """The role each pending invitation to The Beatles offers, by email."""
    engine = create_engine(url)
    with Session(engine) as session:
        rows = session.execute(
            select(Invitation.email, Invitation.role).where(
                Invitation.organization_id == 1
            )
        ).all()
    engine.dispose()
    return dict(rows)


# Ringo's member page, where his role changes (the roles page's form invites:
# issue 19), and a change of his role as its form sends it.
RINGO_PAGE = f"/orgs/1/roles/{TARGET_ID}"
RINGO_TO_BILLING = {
    "name": "BILLING",
    "current": "MEMBER",
    "current_id": str(TARGET_ROLE_ID),
}


def _wait_for(condition: object, what: str, timeout: float = 15.0) -> None:
    """Poll condition() until it is true, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _activity(engine: Engine, where: str, **params: object) -> int | None:
    """The pid of a server process matching where, if any.

    A fresh transaction each time: pg_stat_activity is a snapshot per transaction.
    """
    with engine.connect() as connection:
        return connection.scalar(
            text(
                "SELECT pid FROM pg_stat_activity"
                f" WHERE datname = current_database() AND {where}"
            ),
            params,
        )


def _blocked_update(engine: Engine) -> int | None:
    """The server process of a role UPDATE waiting for a row lock, if any."""
    return _activity(
        engine, "wait_event_type = 'Lock' AND query LIKE 'UPDATE organization_role%'"
    )


def _audit_entries(url: str) -> int:
    """How many audit entries the database holds."""
    engine = create_engine(url)
    with Session(engine) as session:
        count = session.scalar(select(func.count()).select_from(AuditEntry))
    engine.dispose()
    return count or 0


def _check_invariants(url: str) -> None:
    """Every organization has an owner; nobody holds two roles in one."""
    engine = create_engine(url)
    with Session(engine) as session:
        ownerless = session.scalars(
            text(
                "SELECT id FROM organization o WHERE NOT EXISTS (SELECT 1 FROM"
                " organization_role r WHERE r.organization_id = o.id"
                " AND r.name = 'OWNER')"
            )
        ).all()
        doubles = session.execute(
            select(OrganizationRole.user_id, OrganizationRole.organization_id)
            .group_by(OrganizationRole.user_id, OrganizationRole.organization_id)
            .having(func.count() > 1)
        ).all()
    engine.dispose()
    assert ownerless == []
    assert doubles == []


def test_serve_worker_killed_in_the_middle_of_a_change_leaves_none_of_it(
    server: Server, pg_url: str
) -> None:
    # why: the worker dies holding the organization's lock with its UPDATE sent
    # but not committed; PostgreSQL must roll it back and free the lock.
    browser = Browser(server.url, demo.JOHN)
    change = RINGO_TO_BILLING
    statuses: list[int] = []
    client = threading.Thread(
        target=lambda: statuses.append(browser.post(RINGO_PAGE, change))
    )
    engine = create_engine(pg_url)
    try:
        with Session(engine) as holder:
            try:
                # Hold Ringo's role row so the change stops half-way: organization
                # locked, role row being updated, nothing committed. Only the
                # role row (OF): the change's audit entry refers to Ringo's user
                # row, which must stay free for that insert.
                holder.execute(
                    select(OrganizationRole.id)
                    .join(User)
                    .where(User.email == demo.RINGO)
                    .with_for_update(of=OrganizationRole)
                ).all()
                client.start()
                _wait_for(lambda: _blocked_update(engine), "the blocked UPDATE")
                backend = _blocked_update(engine)
                (worker,) = server.workers()
                os.kill(worker, signal.SIGKILL)
                client.join(timeout=30)
            finally:
                holder.rollback()  # the half-done change may now go on, and die
        assert statuses == [0]  # no answer: the worker died
        _wait_for(
            lambda: _activity(engine, "pid = :pid", pid=backend) is None,
            "the dead worker's server process to end",
        )
    finally:
        engine.dispose()
    assert _roles(pg_url)[demo.RINGO] == "MEMBER"  # none of the change
    assert _audit_entries(pg_url) == 0  # its audit entry went with it
    _check_invariants(pg_url)
    # The arbiter replaced the worker, and the organization's lock is free.
    wait_until_healthy(server)
    assert browser.post(RINGO_PAGE, change) == 302
    assert _roles(pg_url)[demo.RINGO] == "BILLING"


@dataclass
class Attempt:
    email: str
    name: str
    before: str | None
    status: int = -1  # 302 done, 0 no answer (the worker died), else refused
    # Where and what to post: an owner's member page (a change), or the roles
    # page's form (for someone without a role: an invitation, issue 19).
    path: str = "/orgs/1/roles"
    data: dict[str, str] = field(default_factory=dict)


@dataclass
class Stream:
    """Role changes sent by several logged-in clients at once."""

    attempts: list[Attempt]
    todo: queue.Queue[Attempt] = field(default_factory=queue.Queue)

    def send(self, browser: Browser) -> None:
        while True:
            try:
                attempt = self.todo.get_nowait()
            except queue.Empty:
                return
            attempt.status = browser.post(attempt.path, attempt.data)


def _add_people(url: str, count: int, owners: int) -> list[Attempt]:
    """count new people, the first owners of them OWNER of The Beatles; one change
    for each (owners become MEMBER, the others get a role), in random order."""
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        people = [
            User(email=f"person{i}@example.com", password_hash="-")
            for i in range(count)
        ]
        session.add_all(people)
        session.flush()
        made = [
            OrganizationRole(user_id=person.id, organization_id=1, name="OWNER")
            for person in people[:owners]
        ]
        session.add_all(made)
        session.flush()
        pages = [
            (
                f"/orgs/1/roles/{role.user_id}",
                {"name": "MEMBER", "current": "OWNER", "current_id": str(role.id)},
            )
            for role in made
        ]
    engine.dispose()
    attempts = [
        Attempt(f"person{i}@example.com", "MEMBER", "OWNER", path=path, data=data)
        for i, (path, data) in enumerate(pages)
    ] + [
        Attempt(
            f"person{i}@example.com",
            (name := ("OWNER", "MEMBER", "BILLING")[i % 3]),
            None,
            data={"user_email": f"person{i}@example.com", "name": name},
        )
        for i in range(owners, count)
    ]
    random.shuffle(attempts)
    return attempts


def test_serve_worker_killed_repeatedly_keeps_every_answered_change(
    server: Server, pg_url: str
) -> None:
    # why: SIGKILL at random moments of a stream of changes; whatever answered
    # 302 must be in the database, and nothing may be half done.
    stream = Stream(_add_people(pg_url, count=240, owners=40))
    for attempt in stream.attempts:
        stream.todo.put(attempt)
    browsers = [Browser(server.url, demo.JOHN) for _ in range(4)]
    clients = [threading.Thread(target=stream.send, args=(b,)) for b in browsers]
    for client in clients:
        client.start()
    kills = 0
    while kills < 5 and not stream.todo.empty():
        time.sleep(random.uniform(0.1, 0.4))
        workers = server.workers()
        if not workers:
            continue  # the arbiter is still replacing the last one
        os.kill(workers[0], signal.SIGKILL)
        kills += 1
        killed = set(workers)
        _wait_for(lambda: set(server.workers()) - killed, "a new worker")  # noqa: B023
    for client in clients:
        client.join(timeout=120)
    assert not any(client.is_alive() for client in clients)
    statuses = [attempt.status for attempt in stream.attempts]
    # A role for a change; an invitation (not yet a role) for the others.
    roles = {**_invitations(pg_url), **_roles(pg_url)}
    unanswered = [a for a in stream.attempts if a.status == 0]
    print(
        f"kills={kills} changes={len(statuses)} done={statuses.count(302)}"
        f" unanswered={len(unanswered)} (of which committed:"
        f" {sum(roles.get(a.email) == a.name for a in unanswered)})"
    )
    assert kills >= 3, "the stream ended before the worker was killed 3 times"
    assert set(statuses) <= {302, 0}
    for attempt in stream.attempts:
        role = roles.get(attempt.email)
        if attempt.status == 302:
            assert role == attempt.name, attempt  # every answered change is there
        else:
            assert role in {attempt.before, attempt.name}, attempt  # all or none
    _check_invariants(pg_url)
    wait_until_healthy(server)


def test_serve_preloaded_workers_open_connections_of_their_own(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # why: with --preload the workers inherit the master's pool; two processes
    # talking over one PostgreSQL socket corrupt each other's conversations
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--preload")
    running = start_server(pg_url, tmp_path / "gunicorn.log", workers=2)
    try:
        browsers = [Browser(running.url, email) for email in (demo.JOHN, demo.PAUL)]
        for _ in range(20):
            for browser in browsers:
                assert browser.get("/orgs")[0] == 200
        assert len(running.workers()) == 2
    finally:
        stop_server(running)
    assert "Traceback" not in running.output()
