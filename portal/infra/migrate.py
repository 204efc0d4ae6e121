"""Schema migrations: Alembic, run on the app's engine, configured from code.

The revisions live in portal/infra/migrations/versions/ and ship inside the package, so
an installed wheel can upgrade its database without the source tree or an
alembic.ini. Everything goes through one connection of the app's engine: a
``search_path`` in a PostgreSQL URL applies. Two upgrades never interleave: on
SQLite the upgrade is a writer transaction (``BEGIN IMMEDIATE``), on PostgreSQL it
holds an advisory lock for its transaction (see _lock_schema).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from portal.infra.db import WRITER

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: The tables ``create_all`` made before Alembic owned the schema: exactly the
#: first revision's. Frozen on purpose: that schema is history now.
LEGACY_TABLES = frozenset(
    {"user", "organization", "repository", "organization_role", "login_failure"}
)


#: The first half of the advisory lock key of migrations on PostgreSQL ("Port"
#: in ASCII); the second is the schema's. Fixed: every release must use it.
MIGRATION_LOCK = 0x506F7274


class LegacyDatabaseError(RuntimeError):
    """A database without Alembic's version table that is not the legacy schema."""


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for our migrations, bound to connection if given."""
    # stdout read now, not when Alembic was imported: the CLI runner replaces it.
    cfg = Config(
        stdout=sys.stdout,
        attributes={"connection": connection} if connection else None,
    )
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # Without it Alembic warns (and pytest's filterwarnings=error fails).
    cfg.set_main_option("path_separator", "os")
    # Date first, so that `ls versions/` lists the revisions in order.
    cfg.set_main_option(
        "file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s"
    )
    if importlib.util.find_spec("ruff") is not None:
        # Generated revisions come out as `make lint` wants them (ruff is a test
        # and development dependency only, hence the check).
        hooks = {
            "hooks": "ruff_format, ruff_check",
            "ruff_format.type": "module",
            "ruff_format.module": "ruff",
            "ruff_format.options": "format --quiet REVISION_SCRIPT_FILENAME",
            "ruff_check.type": "module",
            "ruff_check.module": "ruff",
            "ruff_check.options": "check --fix --quiet REVISION_SCRIPT_FILENAME",
        }
        for name, value in hooks.items():
            cfg.set_section_option("post_write_hooks", name, value)
    return cfg


def first_revision() -> str:
    """The id of the revision that creates the schema from nothing."""
    base = ScriptDirectory.from_config(config()).get_base()
    assert base is not None, "no revisions in portal/infra/migrations/versions"
    return base


def head_revision() -> str:
    """The id of the newest revision."""
    head = ScriptDirectory.from_config(config()).get_current_head()
    assert head is not None, "no revisions in portal/infra/migrations/versions"
    return head


def revisions() -> frozenset[str]:
    """The ids of every revision this release ships."""
    script = ScriptDirectory.from_config(config())
    return frozenset(revision.revision for revision in script.walk_revisions())


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None if Alembic never touched it."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database to revision, first stamping a create_all-made one."""
    with _migrating(engine) as connection:
        _stamp_legacy(connection)
        command.upgrade(config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade the database to revision ("-1" for one step, "base" for empty)."""
    with _migrating(engine) as connection:
        command.downgrade(config(connection), revision)


def make_revision(engine: Engine, message: str, autogenerate: bool) -> None:
    """Write a new revision file; autogenerate compares the models with engine's
    database (which must be at head)."""
    with _migrating(engine) as connection:
        command.revision(config(connection), message=message, autogenerate=autogenerate)


def _stamp_legacy(connection: Connection) -> None:
    """Record a database made by create_all as being at the first revision."""
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" in tables or not tables & LEGACY_TABLES:
        return
    missing = LEGACY_TABLES - tables
    if missing:
        # Stamping would claim tables that are not there; better to stop here.
        raise LegacyDatabaseError(
            "The database has Portal tables but no alembic_version table, and it"
            f" lacks {', '.join(sorted(missing))}: it is not the schema the first"
            " migration creates, so it cannot be stamped."
        )
    command.stamp(config(connection), first_revision())


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """One writer transaction for a migration; SQLite foreign keys off meanwhile."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch ALTER on SQLite copies the table and drops the old one; with
            # foreign keys on, that DROP would cascade-delete the rows that refer to
            # it.
            _sqlite_foreign_keys(connection, on=False)
        try:
            with connection.execution_options(**WRITER).begin():
                if connection.dialect.name == "postgresql":
                    _lock_schema(connection)
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check")
                    if rows := broken.all():
                        raise RuntimeError(f"migration broke foreign keys: {rows}")
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)


def _lock_schema(connection: Connection) -> None:
    """Wait for, then hold until the transaction ends, PostgreSQL's advisory lock
    on migrating the connection's schema.

    Two hosts upgrading at once would otherwise both create the same tables and
    one would fail half-way; with the lock, the second waits, then finds the
    schema at head and has nothing to do. Taken before Alembic reads its version
    table, and released by the commit that records the new version. The key is
    the pair (MIGRATION_LOCK, the schema's name): schemas of one database migrate
    independently, and pairs never collide with the single keys of the login
    throttle (PostgreSQL keeps the two key spaces apart).
    """
    # A migration may wait for another host's, and rewrite big tables: the app's
    # lock and statement timeouts (portal.infra.db) do not apply to it.
    connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
    connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
    connection.execute(
        text(
            "SELECT pg_advisory_xact_lock(:key, hashtext(coalesce(current_schema(),"
            " '')))"
        ),
        {"key": MIGRATION_LOCK},
    )


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    """Switch SQLite's foreign key enforcement for connection.

    SQLite ignores this pragma inside a transaction, and anything sent through
    SQLAlchemy would begin one; so it goes straight to the driver.
    """
    driver = connection.connection.driver_connection
    assert driver is not None  # the connection is open
    driver.execute("PRAGMA foreign_keys=ON" if on else "PRAGMA foreign_keys=OFF")
