"""Benchmark: time per page and Oso queries per page, through the Flask test client.

    make bench                     # or: .venv/bin/python bench/pages.py [--requests N]

Builds a throwaway SQLite database in a temporary folder with the demo data plus
--repos extra repositories in The Beatles and requests each page N times, logged in
as the user the page is for (the owner of The Beatles where they see it). Prints
the median and p95 time per request and the Oso queries each page made. Numbers
are for comparison between commits on the same machine.

The pages come from the route matrix in tests/routes.py, the one list the tests use
too, so a new page is benchmarked without touching this file.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from portal import (
    create_app,  # noqa: E402
    demo,  # noqa: E402
)
from portal.models import Base  # noqa: E402
from tests.factories import bulk_repositories  # noqa: E402
from tests.routes import pages  # noqa: E402


def build_database(path: Path, extra_repos: int) -> str:
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        demo.seed_database(session)
        bulk_repositories(
            session, demo.BEATLES_ID, extra_repos, name="bench repo {i:05}"
        )
        session.commit()
    engine.dispose()
    return url


def logged_in_client(app: Flask, email: str | None) -> FlaskClient:
    """A test client logged in as email through the login form (None: anonymous)."""
    client = app.test_client()
    if email is not None:
        page = client.get("/login").text
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        if match is None:
            raise RuntimeError("no CSRF token on /login")
        token = match.group(1)
        client.post(
            "/login",
            data={"email": email, "password": demo.PASSWORD, "csrf_token": token},
        )
    return client


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--repos", type=int, default=50)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = build_database(Path(tmp) / "bench.sqlite", args.repos)
        app = create_app({"SECRET_KEY": "bench", "DATABASE_URL": url, "HTTPS": False})
        oso = app.extensions["portal.oso"]
        clients: dict[str | None, FlaskClient] = {}
        print(f"{args.requests} requests per page, {args.repos + 1} repositories")
        print(f"{'page':<18}{'median ms':>10}{'p95 ms':>9}{'req/s':>8}{'oso q':>7}")
        for entry in pages():
            if entry.email not in clients:
                clients[entry.email] = logged_in_client(app, entry.email)
            client, path = clients[entry.email], entry.path
            for _ in range(20):  # warm up
                client.get(path)
            before = oso.queries
            assert client.get(path).status_code == 200, path
            queries = oso.queries - before
            times = []
            for _ in range(args.requests):
                start = time.perf_counter()
                client.get(path)
                times.append(time.perf_counter() - start)
            median = statistics.median(times) * 1000
            p95 = statistics.quantiles(times, n=20)[18] * 1000
            print(
                f"{path:<18}{median:>10.2f}{p95:>9.2f}{1000 / median:>8.0f}{queries:>7}"
            )
        app.extensions["portal.engine"].dispose()


if __name__ == "__main__":
    main()
