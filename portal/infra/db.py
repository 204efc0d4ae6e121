"""Database engine and the session of the current request.

Each request gets one session and therefore one transaction. Requests that may
write (anything but GET/HEAD/OPTIONS) start that transaction as a writer:
``BEGIN IMMEDIATE`` on SQLite, which ignores ``SELECT ... FOR UPDATE``; on
PostgreSQL, portal.domain.roles locks the organization row instead. Loading, authorizing
and changing therefore happen in one transaction that no concurrent change can
slip into, which is what keeps "every organization has an owner" true under races.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Execution option that marks a session whose transaction will write.
WRITER = {"portal_writer": True}


# Seconds to wait for a PostgreSQL connection: a database host that drops packets
# would otherwise hold a request (and /healthz) for the OS's TCP timeout, minutes.
CONNECT_TIMEOUT = 5


class DatabaseUnavailable(Exception):
    """The database does not answer; the message names it (never its password)."""


# lower() for every script on SQLite, where the built-in one knows ASCII only.
SQLITE_LOWER = "portal_lower"


def _lower(value: object) -> object:
    """What SQLITE_LOWER answers: text lower-cased, anything else (NULL) as is."""
    return value.lower() if isinstance(value, str) else value


def make_engine(
    url: str,
    pool_size: int = 5,
    max_overflow: int = 5,
    lock_timeout: float | None = None,
    statement_timeout: float | None = None,
) -> Engine:
    """An engine for url; SQLite gets foreign keys, WAL and writer transactions.

    pool_size and max_overflow bound the connections one process holds (see the
    README's Production section); SQLite ignores them. PostgreSQL: lock_timeout
    and statement_timeout (seconds) bound every lock wait and statement of its
    connections (SQLite's waits are bound by its busy timeout, 30 s).
    """
    # SQL parameters stay out of error messages and logs: they include session
    # tokens and password hashes.
    if not url.startswith("sqlite"):
        # pre_ping: a connection the server dropped (restart, failover) is
        # replaced before use, so the app recovers when the database returns.
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=max_overflow,
            hide_parameters=True,
            connect_args={
                "connect_timeout": CONNECT_TIMEOUT,
                **_postgres_options(url, lock_timeout, statement_timeout),
            },
        )
    engine = create_engine(url, hide_parameters=True, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
        # Stop pysqlite from issuing its own BEGIN so that ours (below) is used;
        # SQLAlchemy's documented recipe for SQLite transaction control.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        # SQLite's lower() knows ASCII only: the name searches fold other
        # letters with Python's (portal.domain.name_search).
        dbapi_connection.create_function(SQLITE_LOWER, 1, _lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # A writer takes the write lock up front, so two writers never both read
        # the old state and then both write (SQLite has no row locks).
        writer = conn.get_execution_options().get("portal_writer", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")

    return engine


def _postgres_options(
    url: str, lock_timeout: float | None, statement_timeout: float | None
) -> dict[str, str]:
    """libpq's options for the timeouts, added to the URL's own options (which a
    connect argument would otherwise replace)."""
    settings = [
        f"-c {name}={round(seconds * 1000)}"
        for name, seconds in (
            ("lock_timeout", lock_timeout),
            ("statement_timeout", statement_timeout),
        )
        if seconds
    ]
    if not settings:
        return {}
    given = make_url(url).query.get("options", "")
    options = " ".join([*([given] if isinstance(given, str) else given), *settings])
    return {"options": options.strip()}


def init_app(app: Flask) -> None:
    """Create the app's engine and close the request session after each request."""
    app.extensions["portal.engine"] = configured_engine(app.config)
    app.teardown_appcontext(_close_session)


def configured_engine(config: Mapping[str, Any]) -> Engine:
    """An engine for config's DATABASE_URL, with its pool and timeout settings."""
    return make_engine(
        config["DATABASE_URL"],
        pool_size=config["DATABASE_POOL_SIZE"],
        max_overflow=config["DATABASE_MAX_OVERFLOW"],
        lock_timeout=config["DATABASE_LOCK_TIMEOUT"],
        statement_timeout=config["DATABASE_STATEMENT_TIMEOUT"],
    )


def engine(app: Flask | None = None) -> Engine:
    """The engine of app (default: the current app)."""
    made: Engine = (app or current_app).extensions["portal.engine"]
    return made


def ping(bind: Engine | None = None) -> None:
    """Run SELECT 1 on a connection of its own; DatabaseUnavailable if it fails."""
    bind = bind or engine()
    try:
        with bind.connect() as connection:
            connection.execute(text("SELECT 1"))
    except DBAPIError as error:
        shown = bind.url.render_as_string(hide_password=True)
        reason = str(error.orig).strip().splitlines()[0] if error.orig else "no answer"
        raise DatabaseUnavailable(
            f"The database at {shown} is not answering ({reason})."
        ) from error


def get_session() -> Session:
    """The session of the current request (or app context), created on first use."""
    if "db_session" not in g:
        writer = has_request_context() and request.method not in SAFE_METHODS
        g.db_session = Session(engine(), execution_options=WRITER if writer else {})
    session: Session = g.db_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    """Roll back whatever the request did not commit, and release the connection."""
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Commit session's work when the block ends normally; roll it back if it raises.

    The one way request code commits a change made through a domain module
    (portal.domain.roles and its siblings never commit), so a change and everything
    recorded with it land together or not at all.
    """
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    session.commit()


@contextmanager
def writer_session(bind: Engine | None = None) -> Iterator[Session]:
    """A session outside any request (CLI, seeding) whose transaction writes.

    Commits when the block ends normally, rolls back when it raises.
    """
    with (
        Session(bind or engine(), execution_options=WRITER) as session,
        session.begin(),
    ):
        yield session
