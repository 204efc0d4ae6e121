"""Find rows by name: the organization and repository lists' search, in SQL.

Flask-Admin's list pipeline with its search, on top of the caller's select (the
policy's filter, ``authorized(...)``): name contains the term -> count -> sort ->
page, the last three by portal.domain.paging. Case-insensitive, with ``%``, ``_``
and ``\\`` meaning themselves (escaped, as in the roles page's search).

Case: both sides are lower-cased in SQL. PostgreSQL's lower() knows Unicode (a
UTF-8 database); SQLite's knows ASCII only, so a term with other letters is
compared on SQLite through ``portal_lower`` (Python's str.lower, registered on
every connection by portal.infra.db). An ASCII term keeps the built-in lower():
a letter outside ASCII never matches an ASCII one, so the answer is the same and
the scan makes no call into Python per row.

Also here: the viewer's role in each organization of a page, one query for the
page's rows (never one per row).

No Flask here: the view reads and validates the search (NameSearchForm).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import String

from portal.domain.models import OrganizationRole
from portal.infra.db import SQLITE_LOWER


class unicode_lower(GenericFunction[str]):  # named as SQL functions are
    """lower() that knows every script: PostgreSQL's own, SQLite's portal_lower."""

    type = String()
    inherit_cache = True


@compiles(unicode_lower)
def _lower(element: unicode_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(unicode_lower, "sqlite")
def _lower_sqlite(element: unicode_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_LOWER}({compiler.process(element.clauses, **kw)})"


def name_contains(column: Any, term: str) -> ColumnElement[bool]:
    """column contains term, ignoring case; term's wildcards are literal."""
    folded = term.lower()
    lowered = func.lower(column) if folded.isascii() else unicode_lower(column)
    # autoescape: "%", "_" and the escape character itself mean themselves.
    return lowered.contains(folded, autoescape=True)


def matching(statement: Select[Any], column: Any, term: str) -> Select[Any]:
    """statement narrowed to rows whose column contains term ("" matches all)."""
    if not term:
        return statement
    return statement.where(name_contains(column, term))


def roles_in(
    session: Session, user_id: int, organization_ids: Iterable[int]
) -> Mapping[int, str]:
    """The user's role name in each of the organizations that they hold one in
    (organization id -> name), in one query."""
    ids = list(organization_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(OrganizationRole.organization_id, OrganizationRole.name).where(
            OrganizationRole.user_id == user_id,
            OrganizationRole.organization_id.in_(ids),
        )
    )
    return dict(rows.all())
