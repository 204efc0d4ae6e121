"""Alembic owns the schema: migrations equal the models and keep the data.

Every database test runs on SQLite and on PostgreSQL (a schema of its own, via
``search_path`` in the URL, as in tests/test_postgres.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask import Flask
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from portal import create_app
from portal.domain.models import Base
from portal.infra import migrate
from portal.infra.db import WRITER, make_engine
from tests.conftest import skip_without_postgres
from tests.database import postgres_schema
from tests.settings import app_settings

# Rows for every table of the first revision, written in plain SQL: the models
# may have moved on since, and these rows stand for a database made back then.
# Values that tend to break copies: non-ASCII text, quotes, full-length strings,
# fractional seconds.
FIRST_REVISION_ROWS: dict[str, list[dict[str, Any]]] = {
    "user": [
        {
            "id": 1,
            "email": "zoë@example.com",
            "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
            "session_token": "t" * 64,
            "created_at": "2024-02-29 23:59:59.123456",
        },
        {
            "id": 7,
            "email": "o'brien@example.com",
            "password_hash": "x",
            "session_token": "token-7",
            "created_at": "2025-01-01 00:00:00",
        },
    ],
    "organization": [
        {"id": 1, "name": "Ünïcode & Co 🎸", "billing_address": "1 Rd\nTown"},
        {"id": 3, "name": "x" * 200, "billing_address": ""},
    ],
    "repository": [
        {"id": 1, "name": "Abbey Road", "organization_id": 1},
        {"id": 2, "name": "'; DROP TABLE repository; --", "organization_id": 3},
    ],
    "organization_role": [
        {"id": 1, "name": "OWNER", "user_id": 1, "organization_id": 1},
        {"id": 2, "name": "BILLING", "user_id": 7, "organization_id": 1},
        {"id": 3, "name": "OWNER", "user_id": 7, "organization_id": 3},
    ],
    "login_failure": [
        {"id": 1, "email": "nobody@example.com", "at": "2025-06-01 12:00:00.5"},
    ],
}

ROOT = Path(__file__).resolve().parents[1]
FLASK = Path(sys.executable).parent / "flask"

ADD_A_MIGRATION = (
    "The models and the migrations disagree; add a migration:"
    ' flask --app portal db revision --autogenerate -m "..."'
    " (then review it). Differences:"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """The app's kind of engine on an empty database of the given kind."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'portal.sqlite'}")
        yield engine
        engine.dispose()
        return
    skip_without_postgres()
    with postgres_schema() as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


def make_legacy_database(engine: Engine) -> None:
    """A database as create_all made it before Alembic: the first revision's
    schema (which is exactly what the models were then), no alembic_version."""
    migrate.upgrade(engine, migrate.first_revision())
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE alembic_version")


def schema_differences(engine: Engine) -> list[Any]:
    """What Alembic's autogenerate finds between the database and the models."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def schema(engine: Engine) -> dict[str, str]:
    """Everything the database says about each table, comparable as text."""
    with engine.connect() as connection:
        inspector = inspect(connection)
        return {
            table: repr(
                [
                    [(c["name"], str(c["type"]), c["nullable"]) for c in columns]
                    for columns in [inspector.get_columns(table)]
                ]
                + [
                    inspector.get_pk_constraint(table),
                    inspector.get_foreign_keys(table),
                    inspector.get_indexes(table),
                    inspector.get_unique_constraints(table),
                    inspector.get_check_constraints(table),
                ]
            )
            for table in inspector.get_table_names()
        }


def insert_first_revision_rows(engine: Engine) -> None:
    """Write FIRST_REVISION_ROWS with plain SQL."""
    with engine.begin() as connection:
        for table, rows in FIRST_REVISION_ROWS.items():
            columns = list(rows[0])
            names = ", ".join(f'"{c}"' for c in columns)
            values = ", ".join(f":{c}" for c in columns)
            statement = text(f'INSERT INTO "{table}" ({names}) VALUES ({values})')
            connection.execute(statement, rows)


def rows_of(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of FIRST_REVISION_ROWS' tables and columns, as stored."""
    stored = {}
    with engine.connect() as connection:
        for table, rows in FIRST_REVISION_ROWS.items():
            names = ", ".join(f'"{c}"' for c in rows[0])
            select = text(f'SELECT {names} FROM "{table}" ORDER BY id')
            stored[table] = [tuple(row) for row in connection.execute(select)]
    return stored


def test_migrations_schema_equals_the_models(engine: Engine) -> None:
    # why: the guard against changing a model without adding a migration
    migrate.upgrade(engine)
    differences = schema_differences(engine)
    assert differences == [], f"{ADD_A_MIGRATION} {differences}"


def test_migrations_test_rows_cover_every_table_of_the_first_revision(
    engine: Engine,
) -> None:
    # why: the keep-every-row test below means "every table" only while this holds
    migrate.upgrade(engine, migrate.first_revision())
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set(FIRST_REVISION_ROWS) == migrate.LEGACY_TABLES


def test_migrations_upgrade_from_the_first_revision_keeps_every_row(
    engine: Engine,
) -> None:
    # why: with one revision this is trivial; each later revision must pass it too
    migrate.upgrade(engine, migrate.first_revision())
    insert_first_revision_rows(engine)
    before = rows_of(engine)
    assert {t: len(r) for t, r in before.items()} == {
        t: len(r) for t, r in FIRST_REVISION_ROWS.items()
    }
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert rows_of(engine) == before


def test_migrations_upgrade_twice_changes_nothing(engine: Engine) -> None:
    migrate.upgrade(engine)
    first = schema(engine), migrate.current_revision(engine)
    migrate.upgrade(engine)
    assert (schema(engine), migrate.current_revision(engine)) == first


def test_migrations_downgrade_to_base_and_upgrade_again(engine: Engine) -> None:
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert migrate.current_revision(engine) is None
    migrate.upgrade(engine)
    assert schema_differences(engine) == []


def test_migrations_login_failure_pending_up_and_down(engine: Engine) -> None:
    # why: the throttle tells attempts in flight from failures by this column;
    # the rows from before it are failures, and going back keeps every row
    migrate.upgrade(engine, "b561a1150fe6")
    insert = "INSERT INTO login_failure (id, email, at{}) VALUES (:id, :email, :at{})"
    with engine.begin() as connection:
        connection.execute(
            text(insert.format("", "")),
            {"id": 1, "email": "old@example.com", "at": "2026-12-07 19:00:00"},
        )
    migrate.upgrade(engine, "90b85a0f54a5")
    with engine.begin() as connection:
        connection.execute(
            text(insert.format(", pending", ", :pending")),
            {
                "id": 2,
                "email": "new@example.com",
                "at": "2026-12-07 19:01:00",
                "pending": True,
            },
        )
        rows = connection.execute(
            text("SELECT id, pending FROM login_failure ORDER BY id")
        ).all()
    assert [(i, bool(p)) for i, p in rows] == [(1, False), (2, True)]
    migrate.downgrade(engine, "b561a1150fe6")
    columns = [c["name"] for c in inspect(engine).get_columns("login_failure")]
    assert columns == ["id", "email", "at"]
    with engine.connect() as connection:
        ids = connection.execute(text("SELECT id FROM login_failure ORDER BY id"))
        assert ids.scalars().all() == [1, 2]
    migrate.upgrade(engine)
    assert schema_differences(engine) == []


def test_migrations_stamp_a_create_all_database_and_keep_its_rows(
    engine: Engine,
) -> None:
    # why: databases made before Alembic have the tables but no alembic_version;
    # running the first revision on them would fail on "table already exists"
    make_legacy_database(engine)
    insert_first_revision_rows(engine)
    before = rows_of(engine)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert rows_of(engine) == before
    assert schema_differences(engine) == []


def test_migrations_refuse_to_stamp_a_partial_legacy_database(engine: Engine) -> None:
    # why: stamping would record a table that is not there
    make_legacy_database(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE login_failure")
    with pytest.raises(migrate.LegacyDatabaseError, match="lacks login_failure"):
        migrate.upgrade(engine)
    assert migrate.current_revision(engine) is None


def test_migrations_sqlite_foreign_keys_stay_on_after_a_migration(
    tmp_path: Path,
) -> None:
    # why: they are switched off while migrating (batch copies would cascade)
    engine = make_engine(f"sqlite:///{tmp_path / 'portal.sqlite'}")
    migrate.upgrade(engine)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_migrations_sqlite_table_copy_keeps_the_rows_that_refer_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # why: a batch migration on SQLite copies a table and drops the old one; with
    # foreign keys on, that DROP deleted every repository and role of the copied
    # organizations (ON DELETE CASCADE)
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, copy)
    (copy / "versions" / "29991231_copy_organization.py").write_text(
        f"from alembic import op\n\n"
        f"revision = 'copy_organization'\n"
        f"down_revision = {migrate.head_revision()!r}\n\n\n"
        f"def upgrade() -> None:\n"
        f"    with op.batch_alter_table('organization', recreate='always'):\n"
        f"        pass\n"
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'portal.sqlite'}")
    migrate.upgrade(engine, migrate.first_revision())
    insert_first_revision_rows(engine)
    before = rows_of(engine)
    monkeypatch.setattr(migrate, "MIGRATIONS", copy)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == "copy_organization"
    assert rows_of(engine) == before
    engine.dispose()


def _db_upgrade(url: str) -> subprocess.Popen[str]:
    """`flask --app portal db upgrade` on url, as another host would run it, with
    the app's lock timeout at 1 s (a migration must not be bound by it)."""
    return subprocess.Popen(
        [str(FLASK), "--app", "portal", "db", "upgrade"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": "k",
            "PORTAL_DB_LOCK_TIMEOUT": "1",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _lock_waits(engine: Engine) -> list[str]:
    """The kinds of lock engine's connections wait for (named by
    application_name, as tests/database.py sets it), read on a new connection:
    pg_stat_activity is a snapshot per transaction."""
    with engine.connect() as connection:
        return list(
            connection.scalars(
                text(
                    "SELECT locktype FROM pg_locks JOIN pg_stat_activity USING (pid)"
                    " WHERE NOT granted"
                    " AND application_name = current_setting('application_name')"
                    " ORDER BY locktype"
                )
            )
        )


@pytest.mark.serial
def test_migrations_two_concurrent_upgrades_on_postgresql_serialize() -> None:
    # why: two hosts running `flask db upgrade` at once on a new release; without
    # a lock both created the same tables, and one failed half-way
    skip_without_postgres()
    with postgres_schema() as url:
        engine = make_engine(url)
        # Both upgrades start at the same moment: Alembic first reads its version
        # table (empty: a new database), which the test holds until both wait.
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,"
                " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
        with engine.connect() as gate:
            gate.exec_driver_sql("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
            hosts = [_db_upgrade(url) for _ in range(2)]
            deadline = time.monotonic() + 60
            while len(waits := _lock_waits(engine)) < 2:
                assert time.monotonic() < deadline, f"not both waiting: {waits}"
                assert all(h.poll() is None for h in hosts), hosts[0].communicate()
                time.sleep(0.05)
            # Longer than the app's lock timeout: a migration waits all the same.
            time.sleep(2)
            gate.rollback()
        outputs = [host.communicate(timeout=60)[0] for host in hosts]
        try:
            assert [host.returncode for host in hosts] == [0, 0], outputs
            # One of them waited for the other's upgrade lock, not for the table.
            assert waits == ["advisory", "relation"]
            head = migrate.head_revision()
            assert outputs == [f"Database at revision {head}.\n"] * 2
            with engine.connect() as connection:
                versions = connection.exec_driver_sql("SELECT * FROM alembic_version")
                assert versions.all() == [(head,)]
            assert schema_differences(engine) == []
        finally:
            engine.dispose()


@pytest.mark.serial
def test_migrations_two_concurrent_upgrades_on_sqlite_both_succeed(
    tmp_path: Path,
) -> None:
    # why: SQLite takes no advisory lock; its writer lock must serialize them
    url = f"sqlite:///{tmp_path / 'portal.sqlite'}"
    engine = make_engine(url)
    with engine.connect().execution_options(**WRITER) as gate, gate.begin():
        # Holds the writer lock while both start (they wait: busy_timeout).
        hosts = [_db_upgrade(url) for _ in range(2)]
        time.sleep(2)
    outputs = [host.communicate(timeout=60)[0] for host in hosts]
    assert [host.returncode for host in hosts] == [0, 0], outputs
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert schema_differences(engine) == []
    engine.dispose()


@pytest.fixture
def empty_app(tmp_path: Path) -> Iterator[Flask]:
    """The app on an empty SQLite file."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "k",
            "HTTPS": False,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite'}",
            **app_settings(),
        }
    )
    yield app
    app.extensions["portal.engine"].dispose()


def invoke(app: Flask, *args: str) -> str:
    """Run `flask --app portal ARGS` on app; its output, after checking success."""
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_db_upgrade_creates_the_schema(empty_app: Flask) -> None:
    head = migrate.head_revision()
    assert invoke(empty_app, "db", "upgrade") == f"Database at revision {head}.\n"
    assert schema_differences(empty_app.extensions["portal.engine"]) == []


def test_cli_db_current_names_the_revision(empty_app: Flask) -> None:
    assert "run upgrade" in invoke(empty_app, "db", "current")
    invoke(empty_app, "db", "upgrade")
    assert invoke(empty_app, "db", "current") == f"{migrate.head_revision()} (head)\n"


def test_cli_db_downgrade_goes_back_one_revision(empty_app: Flask) -> None:
    invoke(empty_app, "db", "upgrade", migrate.first_revision())
    output = invoke(empty_app, "db", "downgrade")
    assert output == "Database at revision base (no tables).\n"


def test_cli_init_db_upgrades_to_head(empty_app: Flask) -> None:
    # why: the old command name keeps working for scripts that call it
    invoke(empty_app, "init-db")
    engine = empty_app.extensions["portal.engine"]
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_cli_seed_upgrades_before_seeding(empty_app: Flask) -> None:
    output = invoke(empty_app, "seed")
    assert "Seeded: " in output
    engine = empty_app.extensions["portal.engine"]
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_cli_db_upgrade_stamps_a_create_all_database(empty_app: Flask) -> None:
    engine = empty_app.extensions["portal.engine"]
    make_legacy_database(engine)
    invoke(empty_app, "db", "upgrade")
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_cli_db_upgrade_reports_a_partial_legacy_database(empty_app: Flask) -> None:
    engine = empty_app.extensions["portal.engine"]
    make_legacy_database(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE login_failure")
    result = empty_app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 1
    assert "lacks login_failure" in result.output


def test_cli_db_revision_autogenerate_writes_a_revision(
    empty_app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # why: the developers' command; pointed at a copy so the package stays as is
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, copy)
    monkeypatch.setattr(migrate, "MIGRATIONS", copy)
    invoke(empty_app, "db", "upgrade")
    invoke(empty_app, "db", "revision", "--autogenerate", "-m", "Nothing to do")
    (written,) = copy.glob("versions/*_nothing_to_do.py")
    source = written.read_text()
    assert f'= "{migrate.head_revision()}"' in source  # revises the head
    assert "def upgrade() -> None:" in source and "op." not in source


# --- issue 18: organization names unique ignoring case ---------------------------

BEFORE_NAME_KEYS = "90b85a0f54a5"  # the revision before organization.name_key
NAME_KEYS = "5d1e0c7a9b42"


def test_migrations_name_keys_keep_every_row_and_rename_only_case_twins(
    engine: Engine,
) -> None:
    # why: names were not unique before; organizations whose names differ only
    # in case must all survive the unique name_key, each recognisably renamed
    migrate.upgrade(engine, BEFORE_NAME_KEYS)
    insert_first_revision_rows(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO organization (id, name, billing_address)"
                " VALUES (5, 'ünïcode & co 🎸', 'a'), (6, 'Straße', 'b'),"
                " (8, ' STRASSE ', 'c')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO audit_entry (organization_id, at, action, user_email)"
                " VALUES (1, '2025-01-01 00:00:00', 'add', 'zoë@example.com')"
            )
        )
    before = rows_of(engine)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as connection:
        names = connection.execute(
            text("SELECT id, name, name_key FROM organization ORDER BY id")
        ).all()
        entries = connection.execute(
            text("SELECT action, user_email FROM audit_entry")
        ).all()
    assert [tuple(row) for row in names] == [
        (1, "Ünïcode & Co 🎸", "ünïcode & co 🎸"),
        (3, "x" * 200, "x" * 200),
        (5, "ünïcode & co 🎸 (id 5)", "ünïcode & co 🎸 (id 5)"),
        (6, "Straße", "strasse"),
        (8, "STRASSE (id 8)", "strasse (id 8)"),
    ]
    assert entries == [("add", "zoë@example.com")]
    after = rows_of(engine)
    assert {t: r for t, r in after.items() if t != "organization"} == {
        t: r for t, r in before.items() if t != "organization"
    }


def test_migrations_name_keys_down_and_up_keep_the_organizations(
    engine: Engine,
) -> None:
    migrate.upgrade(engine, BEFORE_NAME_KEYS)
    insert_first_revision_rows(engine)
    migrate.upgrade(engine, NAME_KEYS)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_entry (organization_id, at, action, user_email,"
                " new_role, new_value) VALUES (1, '2025-01-01 00:00:00', 'create',"
                " 'zoë@example.com', 'OWNER', 'Ünïcode & Co 🎸')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO audit_entry (organization_id, at, action, old_value,"
                " new_value) VALUES (1, '2025-01-02 00:00:00', 'rename', 'a', 'b')"
            )
        )
    before = rows_of(engine)
    migrate.downgrade(engine, BEFORE_NAME_KEYS)
    with engine.connect() as connection:
        entries = connection.execute(
            text("SELECT action, user_email, new_role FROM audit_entry")
        ).all()
    # A creation is the addition of the first owner it also was; a rename has no
    # place in the old schema.
    assert [tuple(row) for row in entries] == [("add", "zoë@example.com", "OWNER")]
    assert rows_of(engine) == before
    migrate.upgrade(engine)
    assert rows_of(engine) == before
    assert schema_differences(engine) == []
    with engine.begin() as connection, pytest.raises(IntegrityError):
        connection.execute(
            text(
                "INSERT INTO organization (name, name_key, billing_address)"
                " VALUES ('x', 'ünïcode & co 🎸', '')"
            )
        )


# --- issue 18: repository roles ---------------------------------------------------


def test_migrations_repository_roles_keep_every_row_and_rename_only_case_twins(
    engine: Engine,
) -> None:
    # why: repository names were not unique ignoring case before; twins within
    # one organization must all survive the unique name_key (the later ones by
    # id renamed recognisably), the same names in other organizations are no
    # clash, and every organization keeps what its members could do (READER)
    migrate.upgrade(engine, BEFORE_NAME_KEYS)
    insert_first_revision_rows(engine)
    migrate.upgrade(engine, NAME_KEYS)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO repository (id, name, organization_id) VALUES"
                " (3, 'ABBEY ROAD', 1), (4, ' abbey road ', 1), (5, 'Abbey Road', 3),"
                " (6, 'Straße', 3), (7, 'STRASSE', 3)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO audit_entry (organization_id, at, action, user_email)"
                " VALUES (1, '2025-01-01 00:00:00', 'add', 'zoë@example.com')"
            )
        )
    before = rows_of(engine)
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as connection:
        repositories = connection.execute(
            text(
                "SELECT id, organization_id, name, name_key FROM repository ORDER BY id"
            )
        ).all()
        bases = connection.execute(
            text("SELECT id, base_repository_role FROM organization ORDER BY id")
        ).all()
        entries = connection.execute(
            text("SELECT action, user_email, repository_id FROM audit_entry")
        ).all()
    assert [tuple(row) for row in repositories] == [
        (1, 1, "Abbey Road", "abbey road"),
        (2, 3, "'; DROP TABLE repository; --", "'; drop table repository; --"),
        (3, 1, "ABBEY ROAD (id 3)", "abbey road (id 3)"),
        (4, 1, "abbey road (id 4)", "abbey road (id 4)"),
        (5, 3, "Abbey Road", "abbey road"),
        (6, 3, "Straße", "strasse"),
        (7, 3, "STRASSE (id 7)", "strasse (id 7)"),
    ]
    assert [tuple(row) for row in bases] == [(1, "READER"), (3, "READER")]
    assert [tuple(row) for row in entries] == [("add", "zoë@example.com", None)]
    after = rows_of(engine)
    assert {t: r for t, r in after.items() if t != "repository"} == {
        t: r for t, r in before.items() if t != "repository"
    }
    assert len(after["repository"]) == len(before["repository"]) == 7


def test_migrations_repository_roles_down_keeps_the_rows_it_can(
    engine: Engine,
) -> None:
    # why: going back drops what the old schema cannot say (grants, base roles,
    # repository audit entries) and keeps every organization, repository (with
    # its name as renamed), role and other audit entry
    migrate.upgrade(engine, BEFORE_NAME_KEYS)
    insert_first_revision_rows(engine)
    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO repository (id, name, name_key, organization_id)"
                " VALUES (3, 'Help!', 'help!', 1)"
            )
        )
        connection.execute(
            text("UPDATE organization SET base_repository_role = NULL WHERE id = 3")
        )
        connection.execute(
            text(
                "INSERT INTO repository_role (name, user_id, repository_id,"
                " organization_id) VALUES ('WRITER', 7, 3, 1), ('ADMIN', 7, 2, 3)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO audit_entry (organization_id, at, action, user_email,"
                " old_role, new_role) VALUES (1, '2025-01-01 00:00:00', 'change',"
                " 'zoë@example.com', 'MEMBER', 'OWNER')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO audit_entry (organization_id, at, action, user_email,"
                " new_role, repository_id, repository_name) VALUES (1,"
                " '2025-01-02 00:00:00', 'add_repository_role', 'o''brien@example.com',"
                " 'WRITER', 3, 'Help!')"
            )
        )
    before = rows_of(engine)
    migrate.downgrade(engine, NAME_KEYS)
    tables = set(inspect(engine).get_table_names())
    assert "repository_role" not in tables
    with engine.connect() as connection:
        repositories = connection.execute(
            text("SELECT id, organization_id, name FROM repository ORDER BY id")
        ).all()
        entries = connection.execute(
            text("SELECT action, user_email, new_role FROM audit_entry")
        ).all()
    assert [tuple(row) for row in repositories] == [
        (1, 1, "Abbey Road"),
        (2, 3, "'; DROP TABLE repository; --"),
        (3, 1, "Help!"),
    ]
    assert [tuple(row) for row in entries] == [("change", "zoë@example.com", "OWNER")]
    assert rows_of(engine) == before
    migrate.upgrade(engine)
    assert rows_of(engine) == before
    assert schema_differences(engine) == []
    with engine.connect() as connection:
        bases = connection.execute(
            text("SELECT base_repository_role FROM organization ORDER BY id")
        ).scalars()
        assert list(bases) == ["READER", "READER"]  # back to the default


REPOSITORY_ROLES = "c3a8e2f4d617"  # the revision before the people tables


def test_migrations_people_down_removes_expired_roles_and_keeps_the_rest(
    engine: Engine,
) -> None:
    # why: the old schema has no expiry, so a role kept after its expiry would
    # grant again: going back removes expired roles, keeps the others (now
    # permanent), drops invitations, resets and the outbox, and the audit
    # entries the old schema cannot say; up again, the schema is the models'
    migrate.upgrade(engine, BEFORE_NAME_KEYS)
    insert_first_revision_rows(engine)
    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO repository_role (name, user_id, repository_id,"
                " organization_id, expires_at) VALUES"
                " ('WRITER', 1, 1, 1, '2001-01-01 00:00:00'),"
                " ('ADMIN', 7, 2, 3, NULL),"
                # A grant of no expiry whose holder's organization role has
                # expired: it goes with that role (SQLite: no cascade here).
                " ('READER', 7, 1, 1, NULL)"
            )
        )
        connection.execute(
            text(
                "UPDATE organization_role SET expires_at = '2001-01-01 00:00:00'"
                " WHERE id = 2"
            )
        )
        connection.execute(
            text(
                "UPDATE organization_role SET expires_at = '2999-01-01 00:00:00'"
                " WHERE id = 3"
            )
        )
        connection.execute(
            text(
                "INSERT INTO invitation (organization_id, email, role, token_hash,"
                " created_at, expires_at) VALUES (1, 'new@example.com', 'MEMBER',"
                " 'h', '2025-01-01 00:00:00', '2025-01-08 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO audit_entry (organization_id, at, action, user_email,"
                " new_role) VALUES (1, '2025-01-01 00:00:00', 'invite',"
                " 'new@example.com', 'MEMBER'), (1, '2025-01-01 00:00:00', 'add',"
                " 'zoë@example.com', 'OWNER'), (1, '2025-01-02 00:00:00',"
                " 'accept_invitation', 'new@example.com', 'MEMBER')"
            )
        )
    migrate.downgrade(engine, REPOSITORY_ROLES)
    tables = set(inspect(engine).get_table_names())
    assert not tables & {"invitation", "password_reset", "outbox_message"}
    with engine.connect() as connection:
        roles = connection.execute(
            text("SELECT id, name FROM organization_role ORDER BY id")
        ).all()
        grants = connection.execute(
            text("SELECT user_id, repository_id, name FROM repository_role")
        ).all()
        entries = connection.execute(text("SELECT action FROM audit_entry")).all()
    assert [tuple(r) for r in roles] == [(1, "OWNER"), (3, "OWNER")]
    assert [tuple(g) for g in grants] == [(7, 2, "ADMIN")]
    assert [tuple(e) for e in entries] == [("add",), ("add",)]
    migrate.upgrade(engine)
    assert schema_differences(engine) == []
