"""The README's curl walkthrough, run with curl itself against a live server.

The commands and the output shown in README.md's "JSON and curl" section are the
test: each command runs in one bash session (cookie jars in a temporary folder)
against a server set up as ``make run`` sets it up (demo data, plain HTTP), and
must print exactly what the README shows, CSRF tokens aside.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from portal import create_app
from tests.settings import app_settings

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- curl walkthrough:"
DEMO_URL = "http://127.0.0.1:5000"
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
def server_url(db_url: str) -> Iterator[str]:
    """Portal as `make run` serves it: demo data, plain HTTP."""
    app = create_app(
        {
            "SECRET_KEY": "curl-secret-key",
            "DATABASE_URL": db_url,
            "HTTPS": False,
            **app_settings(),
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    app.extensions["portal.engine"].dispose()


def test_curl_walkthrough_prints_what_the_readme_shows(
    server_url: str, tmp_path: Path
) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is not installed (the Makefile's test target installs it)"
    steps = walkthrough()
    assert len(steps) >= 10
    script = "\n".join(
        f"echo '{SEPARATOR}'\n{command.replace(DEMO_URL, server_url)}"
        for command, _output in steps
    )
    run = subprocess.run(  # our own script, from our own README
        ["/bin/bash", "-c", script],
        cwd=tmp_path,
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
