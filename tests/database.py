"""The test databases on both backends, and what is in them.

Tests that ask for a database (``db_url``, and so ``app``, ``client``...) run once
per backend in $PORTAL_TEST_DATABASES (default: ``sqlite postgresql``), in one
pytest session; tests that touch no database run once.

- SQLite: each test gets a copy of a seeded file, made once per process.
- PostgreSQL (the server at ``PORTAL_TEST_POSTGRES_URL``, default: the local
  server's ``test`` database): each test process makes one working schema through
  the migrations and, before each test, resets it to the rows of a seeded
  template schema (TRUNCATE and copy: 16-68 ms, where building a schema through
  Alembic took 154-546 ms). Tests that need a schema of their own (migrations, an
  empty database, sandboxes) still get a fresh one. Test connections commit with
  ``synchronous_commit=off``: a crash could lose the last commits of a test
  database, which nobody keeps.

Snapshots and reads of the committed state go through a new connection. The
``db`` fixture's session keeps one transaction open from its first read on, and on
SQLite (WAL) that transaction goes on seeing the database as it was at that read:
a "before" and an "after" taken through it are always equal, whatever a request
changed in between.

Imports nothing from pytest, so bench/ and scripts can use it too.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, Executable, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from portal.domain import demo
from portal.domain.models import Base, Organization
from portal.infra import migrate
from portal.infra.passwords import FAST, HashCost

BACKENDS = ("sqlite", "postgresql")
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def backends() -> tuple[str, ...]:
    """The backends tests with a database run on: $PORTAL_TEST_DATABASES (names
    separated by spaces or commas), both by default."""
    names = os.environ.get("PORTAL_TEST_DATABASES", " ".join(BACKENDS))
    chosen = tuple(dict.fromkeys(names.replace(",", " ").lower().split()))
    unknown = [name for name in chosen if name not in BACKENDS]
    if unknown or not chosen:
        raise ValueError(f"PORTAL_TEST_DATABASES={names!r}: use names of {BACKENDS}")
    return chosen


def postgres_server_url() -> str:
    """The PostgreSQL server (and database) tests make their schemas in."""
    return os.environ.get("PORTAL_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


@cache
def postgres_unavailable() -> str | None:
    """Why the PostgreSQL server cannot be used, or None when it answers.

    Asked once per test process. Tests about PostgreSQL skip on it (unless
    PORTAL_REQUIRE_POSTGRES=1, as in CI), so that make test still runs on a
    machine without a server; scripts/postgres-leg.sh says so loudly.
    """
    engine = create_engine(postgres_server_url(), connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        return f"no PostgreSQL server answers at {postgres_server_url()}: {error.orig}"
    finally:
        engine.dispose()
    return None


def postgres_required() -> bool:
    """Whether a missing PostgreSQL server is a failure rather than a skip."""
    return os.environ.get("PORTAL_REQUIRE_POSTGRES") == "1"


def seed_demo(url: str, cost: HashCost = FAST) -> None:
    """Migrate the database at url to head and add the demo data (hashes 8
    passwords at cost), so tests run on the schema the migrations build."""
    engine = create_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as session:
        demo.seed_database(session, cost)
        session.commit()
        ids = dict(session.execute(select(Organization.name, Organization.id)).all())
    engine.dispose()
    # Tests use the constants; seeding a new database must produce them.
    assert ids == {name: org_id for org_id, (name, _, _) in demo.ORGANIZATIONS.items()}


class PostgresSchemas:
    """Schemas of their own for tests on one PostgreSQL server.

    A schema's URL sets its search_path and names it as the application_name, so
    that drop() and reset() can end connections a test left open (an idle
    transaction would otherwise make DROP SCHEMA or TRUNCATE wait for ever).
    """

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self._admin = create_engine(server_url, isolation_level="AUTOCOMMIT")

    def url(self, schema: str) -> str:
        """The URL of schema: the server's, with search_path set to it."""
        # synchronous_commit=off: a commit does not wait for the disk; nobody
        # keeps a test database through a crash.
        options = f"-csearch_path={schema} -csynchronous_commit=off"
        query = {"options": options, "application_name": schema}
        return (
            make_url(self.server_url)
            .update_query_dict(query)
            .render_as_string(hide_password=False)
        )

    def create(self, copy_of: str | None = None) -> str:
        """A new schema, empty or with the rows of schema copy_of; its URL."""
        schema = f"portal_test_{uuid.uuid4().hex[:12]}"
        with self._admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        if copy_of is not None:
            self._copy(copy_of, schema)
        return self.url(schema)

    def _copy(self, source: str, target: str) -> None:
        """Tables (with every constraint) from the migrations, rows from source."""
        engine = create_engine(self.url(target))
        migrate.upgrade(engine)
        engine.dispose()
        with self._admin.begin() as connection:
            self._copy_rows(connection, source, target)

    def reset(self, url: str, source: str) -> None:
        """Make the schema of url hold exactly the rows of schema source again.

        Ends the connections still using it first (a test's idle transaction
        would make TRUNCATE wait for ever). The tables stay as the migrations
        made them: a test that changes a table needs a schema of its own.
        """
        target = self.schema(url)
        with self._admin.begin() as connection:
            self._end_connections(connection, target)
            connection.exec_driver_sql(_reset_script(source, target))

    @staticmethod
    def _copy_rows(connection: Connection, source: str, target: str) -> None:
        """Every row of source's tables into target's, with the id sequences
        moved past them."""
        for table in Base.metadata.sorted_tables:
            columns = ", ".join(f'"{column.name}"' for column in table.columns)
            connection.execute(
                text(
                    f'INSERT INTO "{target}"."{table.name}" ({columns})'
                    f' SELECT {columns} FROM "{source}"."{table.name}"'
                )
            )
            # Copied ids do not move the sequence: the next insert would
            # collide with the first copied row.
            connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence(:table, 'id'),"
                    f" COALESCE(MAX(id), 1), MAX(id) IS NOT NULL)"
                    f' FROM "{target}"."{table.name}"'
                ),
                {"table": f'"{target}"."{table.name}"'},
            )

    def schema(self, url: str) -> str:
        """The schema of a URL made by url()."""
        schema = make_url(url).query["application_name"]
        assert isinstance(schema, str) and schema.startswith("portal_test_"), url
        return schema

    def drop(self, url: str) -> None:
        """Drop the schema of url, ending any connection still using it."""
        schema = self.schema(url)
        with self._admin.connect() as connection:
            self._end_connections(connection, schema)
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))

    @staticmethod
    def _end_connections(connection: Connection, schema: str) -> None:
        """End every other connection that uses schema (by application_name)."""
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = :schema AND pid <> pg_backend_pid()"
            ),
            {"schema": schema},
        )

    def dispose(self) -> None:
        self._admin.dispose()


Snapshot = dict[str, list[tuple[Any, ...]]]


def engine_of(bind: Session | Engine) -> Engine:
    """The Engine of bind: itself, or the one a Session is bound to.

    Session.get_bind() may also return a Connection; no test session is bound to
    one, so that is a failure rather than a case to handle.
    """
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    assert isinstance(engine, Engine), f"{bind!r} is not bound to an Engine"
    return engine


@contextmanager
def committed(bind: Session | Engine) -> Iterator[Connection]:
    """A new connection to bind's database, which sees what is committed now."""
    with engine_of(bind).connect() as connection:
        yield connection


def snapshot(bind: Session | Engine) -> Snapshot:
    """Every row of every table: tables in dependency order, rows by primary key.

    For "this request changed nothing" assertions on any backend (it replaces a
    SQLite-only text dump).
    """
    with committed(bind) as connection:
        return {
            table.name: [
                tuple(row)
                for row in connection.execute(
                    select(table).order_by(*table.primary_key.columns)
                )
            ]
            for table in Base.metadata.sorted_tables
        }


def committed_scalar(bind: Session | Engine, statement: Executable) -> Any:
    """The first column of statement's first row, read on a new connection."""
    with committed(bind) as connection:
        return connection.execute(statement).scalar()


@contextmanager
def postgres_schema() -> Iterator[str]:
    """The URL of an empty schema of its own on the server, dropped afterwards."""
    schemas = PostgresSchemas(postgres_server_url())
    url = schemas.create()
    try:
        yield url
    finally:
        schemas.drop(url)
        schemas.dispose()


@functools.cache
def _reset_script(source: str, target: str) -> str:
    """PostgresSchemas.reset's statements, sent in one round trip: empty each
    table of target (DELETE, children first: on a few dozen rows it costs a
    millisecond, where TRUNCATE makes new files for every table and index and
    cost 60-70 ms a test), copy source's rows in, and set each id sequence past
    them (or back to 1, as RESTART IDENTITY did)."""
    tables = Base.metadata.sorted_tables
    statements = [f'DELETE FROM "{target}"."{t.name}"' for t in reversed(tables)]
    for table in tables:
        columns = ", ".join(f'"{column.name}"' for column in table.columns)
        name = f'"{target}"."{table.name}"'
        statements.append(
            f"INSERT INTO {name} ({columns})"
            f' SELECT {columns} FROM "{source}"."{table.name}"'
        )
        statements.append(
            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'),"
            f" COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {name}"
        )
    return ";\n".join(statements)
