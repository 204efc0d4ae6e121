"""Paged lists: count the rows a select() finds, then fetch one page of them.

Flask-Admin's list pipeline without the search: filter (the caller's select, e.g.
``authorized(...)``) -> sort (the caller's ``order_by``, which must be a total
order such as name, then id) -> page -> count, the count only when the page is
full (a short page is the last one, and says how long the list is). The count and
the page run the same statement, so a policy-filtered list costs one Oso query
however it is paged.

No Flask here: the views turn ListQueryError (a page number that is not one, any
list parameter given more than once) into 400 and PageOutOfRange into 404.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

T = TypeVar("T")

PER_PAGE = 50

# ASCII digits only (int() would take " 2", "+2", "2_0" and "２"); 18 digits keep
# every number far from any database's integer limits.
_PAGE_NUMBER = re.compile(r"[0-9]{1,18}")
# No database holds this many rows; a page starting past it is beyond the last.
_MAX_OFFSET = 2**53


class ListQueryError(ValueError):
    """A list's query parameters ask for no list: answered 400."""


class PageNumberError(ListQueryError):
    """The page asked for is not a page number at all."""


class RepeatedParameter(ListQueryError):
    """A list's query parameter was given more than once.

    Every list refuses it (page, and the member search's q and role) rather than
    pick one of the values: a link that says two things is a mistake to show.
    """

    def __init__(self, name: str, what: str) -> None:
        """The error naming the parameter name, which gives what ("page number")."""
        super().__init__(
            f"Give one {what}, not several. Send the query parameter {name} once."
        )


def one_value(name: str, what: str, values: Sequence[str]) -> str | None:
    """The one value of a list's query parameter name (None: not given); raises
    RepeatedParameter when it was given more than once."""
    if len(values) > 1:
        raise RepeatedParameter(name, what)
    return values[0] if values else None


class PageOutOfRange(LookupError):
    """The page asked for is a number, but the list has fewer pages."""

    def __init__(self, number: int, pages: int, total: int) -> None:
        self.number, self.pages, self.total = number, pages, total
        if total == 0:
            have = "the list is empty"
        else:
            have = f"the list has {pages:,} page{'s' if pages != 1 else ''}"
        super().__init__(f"There is no page {number:,}; {have}.")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its rows, where it is, and how long the list is."""

    items: Sequence[T]
    number: int  # 1-based
    per_page: int
    total: int  # rows in the whole list

    @property
    def pages(self) -> int:
        """How many pages the list has (an empty list has one, showing nothing)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    def window(self, around: int = 2) -> list[int | None]:
        """The page numbers a numbered pager shows: the first, the last, and
        around pages on each side of this one, in order; None where pages are
        left out (an ellipsis). A gap of a single page shows that page instead:
        an ellipsis would hide no more than a number. Never a number outside
        1..pages."""
        last, here = self.pages, self.number
        near = range(max(1, here - around), min(last, here + around) + 1)
        numbers: list[int | None] = []
        previous = 0
        for number in sorted({1, last, *near}):
            if number - previous == 2:
                numbers.append(number - 1)
            elif number - previous > 2:
                numbers.append(None)
            numbers.append(number)
            previous = number
        return numbers

    @property
    def first(self) -> int:
        """The position of the page's first row in the list (1-based; 0 if none)."""
        return (self.number - 1) * self.per_page + 1 if self.items else 0

    @property
    def last(self) -> int:
        """The position of the page's last row in the list (0 if none)."""
        return self.first + len(self.items) - 1 if self.items else 0


def page_number(values: Sequence[str]) -> int:
    """The page number in a request's ``page`` values: 1 when there is none.

    Raises PageNumberError for anything but one whole number from 1 up
    (RepeatedParameter for several values): no value is guessed at, so a
    mistyped link fails visibly instead of showing page 1.
    """
    value = one_value("page", "page number", values)
    if value is None:
        return 1
    if not _PAGE_NUMBER.fullmatch(value) or int(value) < 1:
        raise PageNumberError("The page number must be a whole number from 1 up.")
    return int(value)


def paginate(
    session: Session,
    statement: Select[Any],
    number: int,
    per_page: int = PER_PAGE,
    *,
    rows: bool = False,
) -> Page[Any]:
    """Page number of statement's rows (ordered as statement orders them): its
    first column's values, or whole rows (tuples) with rows=True.

    Raises PageOutOfRange beyond the last page, except for page 1, which always
    exists (an empty list shows its empty state).
    """
    if number < 1 or per_page < 1:
        raise ValueError(f"page {number} of {per_page} rows: both start at 1")
    offset = (number - 1) * per_page
    # An offset past any list (and past 64-bit integers) is not asked for.
    items = (
        (session.execute if rows else session.scalars)(
            statement.limit(per_page).offset(offset)
        ).all()
        if offset < _MAX_OFFSET
        else []
    )
    if len(items) < per_page and (items or number == 1):
        # The last page (or an empty list's first): the rows say how many there
        # are, no count needed. A search with fewer matches than a page, the
        # common case, then scans its rows once instead of twice.
        return Page(
            items=items, number=number, per_page=per_page, total=offset + len(items)
        )
    total = session.scalar(_count(statement)) or 0
    page: Page[Any] = Page(items=items, number=number, per_page=per_page, total=total)
    if number > page.pages:
        raise PageOutOfRange(number, page.pages, page.total)
    return page


def _count(statement: Select[Any]) -> Select[Any]:
    """A statement counting statement's rows (its order does not matter).

    A DISTINCT statement is counted over a subquery, which keeps the DISTINCT;
    any other as itself with count(*) for its columns, so the database need not
    build the rows to count them.
    """
    unordered = statement.order_by(None)
    if unordered._distinct:
        return select(func.count()).select_from(unordered.subquery())
    return unordered.with_only_columns(func.count(), maintain_column_froms=True)
