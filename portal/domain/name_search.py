"""Find rows by name: the organization and repository lists' search, in SQL.

Flask-Admin's list pipeline with its search, on top of the caller's select (the
policy's filter, ``authorized(...)``): name contains the term -> sort -> page ->
count (only a full page is counted), the last three by portal.domain.paging.
Case-insensitive, with ``%``, ``_`` and ``\\`` meaning themselves (escaped, as in
the roles page's search).

Case: the term is lower-cased in Python and compared with LIKE in any case
(PostgreSQL's ILIKE; SQLite's LIKE, which ignores the case of ASCII letters). A
term with letters outside ASCII is compared with the lower-cased name instead:
PostgreSQL's lower() knows Unicode (a UTF-8 database), SQLite's knows ASCII only,
so there it is ``portal_lower`` (Python's str.lower, registered on every
connection by portal.infra.db). An ASCII term makes no call into Python per row.

Also here: the viewer's role in each organization of a page, one query for the
page's rows (never one per row).

No Flask here: the view reads and validates the search (NameSearchForm).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Select, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import Boolean, String

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


class like_any_case(GenericFunction[bool]):  # named as SQL functions are
    """``text LIKE pattern``, ASCII letters in any case: PostgreSQL's ILIKE,
    SQLite's own LIKE (which ignores the case of ASCII letters; lower() on every
    row would cost it three times as much). ``/`` escapes the wildcards."""

    type = Boolean()
    inherit_cache = True


def _like_parts(
    element: like_any_case, compiler: SQLCompiler, **kw: Any
) -> tuple[str, str]:
    text, pattern = element.clauses.clauses
    return compiler.process(text, **kw), compiler.process(pattern, **kw)


@compiles(like_any_case)
def _ilike(element: like_any_case, compiler: SQLCompiler, **kw: Any) -> str:
    text, pattern = _like_parts(element, compiler, **kw)
    return f"{text} ILIKE {pattern} ESCAPE '{_ESCAPE}'"


@compiles(like_any_case, "sqlite")
def _like_sqlite(element: like_any_case, compiler: SQLCompiler, **kw: Any) -> str:
    text, pattern = _like_parts(element, compiler, **kw)
    return f"{text} LIKE {pattern} ESCAPE '{_ESCAPE}'"


_ESCAPE = "/"


def _contains_pattern(term: str) -> str:
    """A LIKE pattern for "contains term", its wildcards and escape literal."""
    for special in (_ESCAPE, "%", "_"):
        term = term.replace(special, _ESCAPE + special)
    return f"%{term}%"


def name_contains(column: Any, term: str) -> ColumnElement[bool]:
    """column contains term, ignoring case; term's wildcards are literal."""
    folded = term.lower()
    # An ASCII term: LIKE's own case folding suffices (a letter outside ASCII
    # never matches an ASCII one). Otherwise both sides are lower-cased.
    text = column if folded.isascii() else unicode_lower(column)
    return like_any_case(text, literal(_contains_pattern(folded)))


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
