"""What is in the test database: snapshots and reads of the committed state.

Every read here goes through a new connection. The ``db`` fixture's session keeps
one transaction open from its first read on, and on SQLite (WAL) that transaction
goes on seeing the database as it was at that read: a "before" and an "after"
taken through it are always equal, whatever a request changed in between.

Imports nothing from pytest, so bench/ and scripts can use it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Executable, select
from sqlalchemy.orm import Session

from portal.models import Base

Snapshot = dict[str, list[tuple[Any, ...]]]


@contextmanager
def committed(bind: Session | Engine) -> Iterator[Connection]:
    """A new connection to bind's database, which sees what is committed now."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    assert isinstance(engine, Engine), f"cannot open a connection from {engine!r}"
    with engine.connect() as connection:
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
