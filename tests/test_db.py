"""portal.infra.db on SQLite: the settings that make SQLite safe for concurrent writers.

PostgreSQL's counterpart (the organization row lock) is in tests/test_postgres.py.
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from portal.infra.db import WRITER, make_engine

pytestmark = pytest.mark.sqlite_only


def _other_connection(db_url: str) -> sqlite3.Connection:
    """A plain sqlite3 connection that gives up at once when the file is locked."""
    path = make_url(db_url).database
    assert path
    return sqlite3.connect(path, timeout=0, isolation_level=None)


def test_sqlite_engine_enables_foreign_keys_wal_and_a_busy_timeout(
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    engine.dispose()


def test_sqlite_writer_session_takes_the_write_lock_when_it_begins(
    db_url: str,
) -> None:
    # why: SQLite ignores SELECT ... FOR UPDATE; taking the lock at BEGIN is what
    # keeps two role changes from both reading "two owners" (DESIGN.md)
    engine = make_engine(db_url)
    other = _other_connection(db_url)
    with Session(engine, execution_options=WRITER) as writer:
        writer.execute(select(1))  # a read, yet the write lock is held
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.close()
    engine.dispose()


def test_sqlite_reader_session_leaves_writers_free(db_url: str) -> None:
    engine = make_engine(db_url)
    other = _other_connection(db_url)
    with Session(engine) as reader:
        reader.execute(select(1))
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    other.close()
    engine.dispose()
