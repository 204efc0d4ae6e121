"""The README's curl walkthrough, run with curl itself against a live server.

The commands and the output shown in README.md's "JSON and curl" section are the
test: each command runs in one bash session (cookie jars in a temporary folder)
against a server set up as ``make run`` sets it up (demo data, plain HTTP), and
must print exactly what the README shows, CSRF tokens aside. The server is on a
port of its own, given to the walkthrough as ``PORT`` (as ``make run`` takes it):
a command that ignores ``PORT`` reaches nothing. Afterwards the demo's roles are
as they were, so that the browser walk of the README works after it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from portal import create_app
from portal.domain.models import OrganizationRole, User
from tests.settings import app_settings

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- curl walkthrough:"
DEMO_PORT = 5000  # make run's default PORT
TOKEN = re.compile(r'"csrf_token": "[^"]*"')
SEPARATOR = "@@@ next command @@@"


def walkthrough() -> list[tuple[str, str]]:
    """(command, output) pairs of the README's walkthrough, in order."""
    text = README.read_text()
    assert MARKER in text, "README.md lost its curl walkthrough"
    block = text.split(MARKER, 1)[1].split("```console\n", 1)[1].split("```", 1)[0]
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return [(command, "\n".join(output)) for command, output in steps]


@pytest.fixture
def server(db_url: str) -> Iterator[tuple[Flask, int]]:
    """Portal as `make run` serves it (demo data, plain HTTP) on a free port, and
    that port."""
    app = create_app(
        {
            "SECRET_KEY": "curl-secret-key",
            "DATABASE_URL": db_url,
            "HTTPS": False,
            **app_settings(),
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield app, server.server_port
    server.shutdown()
    thread.join(timeout=5)
    app.extensions["portal.engine"].dispose()


def demo_roles(app: Flask) -> list[tuple[str, int, str]]:
    """Every role in app's database: (email, organization id, role)."""
    statement = select(
        User.email, OrganizationRole.organization_id, OrganizationRole.name
    ).join(User)
    with Session(app.extensions["portal.engine"]) as session:
        return sorted((e, o, n) for e, o, n in session.execute(statement))


def test_curl_walkthrough_prints_what_the_readme_shows(
    server: tuple[Flask, int], tmp_path: Path
) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is not installed (the Makefile's test target installs it)"
    app, port = server
    # why: the walkthrough hard-coded port 5000; on any other port it must follow
    # PORT, as make run does
    assert port != DEMO_PORT
    steps = walkthrough()
    assert len(steps) >= 10
    script = "\n".join(f"echo '{SEPARATOR}'\n{command}" for command, _output in steps)
    before = demo_roles(app)
    run = subprocess.run(  # our own script, from our own README
        ["/bin/bash", "-c", script],
        cwd=tmp_path,
        env={**os.environ, "PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    printed = run.stdout.split(SEPARATOR + "\n")[1:]
    assert len(printed) == len(steps)
    for (command, shown), got in zip(steps, printed, strict=True):
        assert TOKEN.sub('"csrf_token": "…"', got.rstrip("\n")) == shown, command
    # Every answer with a body carried a fresh token.
    assert all('"csrf_token": "' in got for got in printed if got.strip())
    # why: it left Ringo a billing manager, and the README's browser walk (john
    # makes Ringo a billing contact) then had nothing to do
    assert demo_roles(app) == before


def test_curl_walkthrough_changes_roles_on_the_way() -> None:
    # why: "the same before and after" must not hold because nothing was changed
    changes = [c for c, _ in walkthrough() if '"name": "BILLING"' in c]
    # Ringo's role is changed on his member page (the roles page's form invites).
    assert changes and changes[0].endswith('"$PORTAL/orgs/1/roles/3"')
