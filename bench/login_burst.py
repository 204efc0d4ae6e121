"""Benchmark: a server's peak memory while it answers a burst of parallel logins.

    .venv/bin/python bench/login_burst.py [--logins 64] [--hash-concurrency N]

Seeds a throwaway SQLite database with the demo data, serves a copy of it from a
separate process (Werkzeug's threaded server on a free localhost port), warms the
server up with one login, then has --logins clients log in at the same moment
(demo users, right password). Prints the server's resident memory after the
warm-up (VmRSS) and its peak (VmHWM, from /proc/<pid>/status, so Linux only).
Each argon2id check holds 19 MiB while it runs; the peak shows how many ran at
once. --hash-concurrency sets PORTAL_HASH_CONCURRENCY for the server, which
portal.infra.passwords reads. Numbers are for comparison between commits on one machine.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, build_opener

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from portal import create_app
from portal.domain import demo
from portal.domain.models import Base

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_in(page: str) -> str:
    """The CSRF token of the login form on page."""
    match = CSRF_RE.search(page)
    if match is None:
        raise RuntimeError("no CSRF token on the login page")
    return match.group(1)


def serve(database_url: str) -> None:
    """Serve Portal on database_url from this process; print the port, then block."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    app = create_app(
        {"SECRET_KEY": "bench", "DATABASE_URL": database_url, "HTTPS": False}
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(server.server_port, flush=True)
    server.serve_forever()


def seed(path: Path) -> None:
    """A SQLite file at path with the demo data."""
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        demo.seed_database(session)
        session.commit()
    engine.dispose()


def memory_mib(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak so far) of process pid, in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    mib = {}
    for key in ("VmRSS", "VmHWM"):
        match = re.search(rf"^{key}:\s+(\d+) kB", status, re.M)
        if match is None:
            raise RuntimeError(f"no {key} in /proc/{pid}/status")
        mib[key] = int(match.group(1)) / 1024
    return mib


class Visitor:
    """One browser: opens the login page, then logs in when told to."""

    def __init__(self, url: str, email: str) -> None:
        self.url = url
        self.email = email
        self._opener = build_opener(HTTPCookieProcessor(CookieJar()))
        self.status = 0  # of the login POST; 302 (followed to /orgs) means in

    def open_login_page(self) -> None:
        """GET /login: the session cookie and the CSRF token of the form."""
        with self._opener.open(f"{self.url}/login", timeout=300) as response:
            self._token = csrf_in(response.read().decode())

    def log_in(self) -> None:
        """POST the login form with the demo password; remember the answer."""
        form = {
            "email": self.email,
            "password": demo.PASSWORD,
            "csrf_token": self._token,
        }
        data = urlencode(form).encode()
        try:
            with self._opener.open(f"{self.url}/login", data, timeout=300) as page:
                self.status = 302 if page.url.endswith("/orgs") else page.status
        except HTTPError as error:  # e.g. 429: the throttle counts pending logins
            self.status = error.code


def burst(url: str, logins: int) -> tuple[Counter[int], float]:
    """Log in logins visitors at the same moment; their statuses, and the seconds."""
    visitors = [Visitor(url, demo.USERS[i % len(demo.USERS)]) for i in range(logins)]
    for visitor in visitors:
        visitor.open_login_page()
    barrier = threading.Barrier(logins + 1)

    def go(visitor: Visitor) -> None:
        barrier.wait()
        visitor.log_in()

    threads = [threading.Thread(target=go, args=(v,)) for v in visitors]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return Counter(visitor.status for visitor in visitors), elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=64)
    parser.add_argument("--hash-concurrency", type=int, default=None)
    parser.add_argument("--serve", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return
    env = dict(os.environ)
    if args.hash_concurrency is not None:
        env["PORTAL_HASH_CONCURRENCY"] = str(args.hash_concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        seed(Path(tmp) / "seeded.sqlite")
        served = Path(tmp) / "served.sqlite"
        shutil.copy(Path(tmp) / "seeded.sqlite", served)  # the server's own copy
        server = subprocess.Popen(  # this same script, as the server; no shell
            [sys.executable, __file__, "--serve", f"sqlite:///{served}"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert server.stdout is not None  # stdout=PIPE
            url = f"http://127.0.0.1:{server.stdout.readline().strip()}"
            warm_up = Visitor(url, demo.JOHN)
            warm_up.open_login_page()
            warm_up.log_in()  # imports, templates, one hash: not the burst's doing
            before = memory_mib(server.pid)
            statuses, elapsed = burst(url, args.logins)
            after = memory_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=10)
    limit = env.get("PORTAL_HASH_CONCURRENCY", "default")
    print(f"server pid {server.pid}, PORTAL_HASH_CONCURRENCY={limit}")
    print(
        f"after warm-up      RSS {before['VmRSS']:6.1f} MiB,"
        f" peak (VmHWM) {before['VmHWM']:6.1f} MiB"
    )
    print(
        f"after the burst    RSS {after['VmRSS']:6.1f} MiB,"
        f" peak (VmHWM) {after['VmHWM']:6.1f} MiB"
        f" (+{after['VmHWM'] - before['VmRSS']:.1f} MiB over the warm RSS)"
    )
    answers = ", ".join(f"{n} x {status}" for status, n in sorted(statuses.items()))
    print(f"{args.logins} logins in {elapsed:.2f} s: {answers} (302: logged in)")


if __name__ == "__main__":
    main()
