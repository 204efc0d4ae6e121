"""One app per test process and hash cost, re-pointed at each test's database.

Making an app costs more than most tests: Werkzeug compiles every URL rule and
Jinja loads every template anew (about 30 ms), and a login on a cold app pays for
its templates again. So the ``app`` fixture (conftest.py) builds one app per hash
cost and process and, before each test, puts it back as it was made:

- its configuration, restored from a copy taken when it was made, with the test's
  DATABASE_URL;
- an engine of its own for the test's database (PostgreSQL's working schema keeps
  one engine, and its pool, across tests; it is reset, not replaced);
- its Oso's caches emptied and its query counters zeroed: every test starts cold.

What a test may not change in place it is checked for instead: a test that loads
another policy, replaces an extension or wraps the WSGI app leaves the app
"spent", and the next test gets a new one. A test that adds a route (which Flask
refuses on an app that has served a request) is marked ``own_app``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy import Engine

from portal.authz import get_oso
from portal.infra.db import configured_engine

_ENGINE = "portal.engine"


class SharedApp:
    """An app made once, and what it looked like then."""

    def __init__(self, make: Callable[[], Flask]) -> None:
        """make: builds the app (called again when a test spent the one held)."""
        self._make = make
        self._app: Flask | None = None
        self._kept: dict[str, Engine] = {}  # engines kept across tests, by URL

    def _fresh(self) -> Flask:
        app = self._make()
        app.extensions[_ENGINE].dispose()  # made for the first test's URL: unused
        self._config = dict(app.config)
        self._extensions = {k: v for k, v in app.extensions.items() if k != _ENGINE}
        self._policy = get_oso(app)._policy
        self._wsgi = vars(app).get("wsgi_app")  # set on the instance: wrapped
        self._rules = len(list(app.url_map.iter_rules()))
        return app

    def _spent(self, app: Flask) -> str | None:
        """What the last test changed that a reset cannot put back, if anything."""
        extensions = {k: v for k, v in app.extensions.items() if k != _ENGINE}
        if extensions.keys() != self._extensions.keys() or any(
            extensions[k] is not v for k, v in self._extensions.items()
        ):
            return "an extension was replaced"
        if get_oso(app)._policy != self._policy:
            return "the policy changed"
        if vars(app).get("wsgi_app") is not self._wsgi:
            return "the WSGI app was wrapped"
        if len(list(app.url_map.iter_rules())) != self._rules:
            return "a route was added"
        return None

    @contextmanager
    def on(self, url: str, keep_engine: bool) -> Iterator[Flask]:
        """The app, reset, on the database at url. keep_engine: the database
        outlives the test (it is reset, not replaced), so its engine is kept."""
        app = self._app
        if app is None or self._spent(app) is not None:
            self.dispose()
            app = self._app = self._fresh()
        app.config.clear()
        app.config.update(self._config, DATABASE_URL=url)
        oso = get_oso(app)
        oso.clear_caches()
        oso.queries = oso.cache_hits = 0
        engine = self._kept.get(url)
        if engine is None:
            engine = configured_engine(app.config)
            if keep_engine:
                self._kept[url] = engine
        app.extensions[_ENGINE] = engine
        try:
            yield app
        finally:
            if url not in self._kept:
                engine.dispose()

    def dispose(self) -> None:
        """Close every connection the app and its kept engines hold."""
        for engine in self._kept.values():
            engine.dispose()
        self._kept = {}
        self._app = None


def own_app(make: Callable[[], Flask]) -> Iterator[Flask]:
    """A new app for one test (marked own_app), disposed after it."""
    app = make()
    yield app
    app.extensions[_ENGINE].dispose()
