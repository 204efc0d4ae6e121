"""The paging helper (portal/domain/paging.py): page numbers, counts, slices, bounds."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Select, event, select
from sqlalchemy.orm import Session

from portal.domain import paging
from portal.domain.models import Organization, OrganizationRole, Repository
from tests.factories import bulk_organizations, bulk_repositories, bulk_roles, make_user


def _repos(db: Session, count: int) -> Select[Any]:
    """A new organization with count repositories; the select of them, ordered."""
    (org_id,) = bulk_organizations(db, 1)
    bulk_repositories(db, org_id, count, name="r{i:03}")
    return (
        select(Repository)
        .where(Repository.organization_id == org_id)
        .order_by(Repository.name, Repository.id)
    )


def test_paging_page_number_is_one_without_a_value() -> None:
    assert paging.page_number([]) == 1


@pytest.mark.parametrize("value", ["1", "2", "07", "1000000000"])
def test_paging_page_number_reads_whole_numbers(value: str) -> None:
    assert paging.page_number([value]) == int(value)


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "00",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1.0",
        "1e3",
        "abc",
        "",
        "２",
        "1_0",
        "9" * 10_000,
    ],
)
def test_paging_page_number_refuses_what_is_not_a_page(value: str) -> None:
    with pytest.raises(paging.PageNumberError, match="whole number from 1 up"):
        paging.page_number([value])


def test_paging_page_number_refuses_several_values() -> None:
    message = "one page number, not several. Send the query parameter page once."
    with pytest.raises(paging.RepeatedParameter, match=message):
        paging.page_number(["1", "2"])


@pytest.mark.parametrize(
    ("number", "size", "first", "last", "has_prev", "has_next"),
    [
        (1, 50, "r000", "r049", False, True),
        (2, 50, "r050", "r099", True, True),
        (3, 20, "r100", "r119", True, False),
    ],
)
def test_paging_paginate_slices_the_list(
    db: Session,
    number: int,
    size: int,
    first: str,
    last: str,
    has_prev: bool,
    has_next: bool,
) -> None:
    page = paging.paginate(db, _repos(db, 120), number)
    assert [page.items[0].name, page.items[-1].name] == [first, last]
    assert len(page.items) == size
    assert (page.total, page.pages, page.number) == (120, 3, number)
    assert (page.has_prev, page.has_next) == (has_prev, has_next)
    assert (page.first, page.last) == ((number - 1) * 50 + 1, (number - 1) * 50 + size)


def test_paging_pages_cover_the_list_once_in_order(db: Session) -> None:
    # why: equal names must not repeat or vanish at a page boundary (ties by id);
    # one organization's names are unique, so the equal ones are in 25 of them
    org_ids = bulk_organizations(db, 25)
    for org_id in org_ids:
        bulk_repositories(db, org_id, 1, name="same")
    bulk_repositories(db, org_ids[0], 25, name="{i:02}")
    statement = (
        select(Repository)
        .where(Repository.organization_id.in_(org_ids))
        .order_by(Repository.name, Repository.id)
    )
    seen = [
        repo
        for number in range(1, 6)
        for repo in paging.paginate(db, statement, number, per_page=10).items
    ]
    assert seen == list(db.scalars(statement))


def test_paging_counts_each_row_of_a_distinct_join_once(db: Session) -> None:
    # why: authorized() joins role rows and adds DISTINCT; the count must match
    # the rows the page shows, not the joined rows
    org_ids = bulk_organizations(db, 3)
    users = [make_user(db).id for _ in range(4)]
    bulk_roles(db, [(user, org, "MEMBER") for user in users for org in org_ids])
    statement = (
        select(Organization)
        .join(OrganizationRole)
        .where(Organization.id.in_(org_ids))
        .distinct()
        .order_by(Organization.name, Organization.id)
    )
    page = paging.paginate(db, statement, 1)
    assert page.total == 3 and len(page.items) == 3


@pytest.mark.parametrize(
    ("count", "number", "message"),
    [
        (120, 4, "There is no page 4; the list has 3 pages."),
        (10, 2, "There is no page 2; the list has 1 page."),
        (0, 2, "There is no page 2; the list is empty."),
        (120, 10**9, "There is no page 1,000,000,000; the list has 3 pages."),
    ],
)
def test_paging_refuses_pages_beyond_the_last(
    db: Session, count: int, number: int, message: str
) -> None:
    with pytest.raises(paging.PageOutOfRange) as refused:
        paging.paginate(db, _repos(db, count), number)
    assert str(refused.value) == message


def test_paging_page_one_of_an_empty_list_is_empty(db: Session) -> None:
    page = paging.paginate(db, _repos(db, 0), 1)
    assert (page.items, page.total, page.pages) == ([], 0, 1)
    assert (page.first, page.last, page.has_prev, page.has_next) == (0, 0, False, False)


@pytest.mark.parametrize(
    ("total", "pages"), [(0, 1), (1, 1), (50, 1), (51, 2), (100, 2)]
)
def test_paging_page_counts_whole_pages(total: int, pages: int) -> None:
    assert paging.Page(items=(), number=1, per_page=50, total=total).pages == pages


@pytest.mark.parametrize(("number", "per_page"), [(0, 50), (1, 0)])
def test_paging_paginate_refuses_numbers_below_one(
    db: Session, number: int, per_page: int
) -> None:
    with pytest.raises(ValueError):
        paging.paginate(db, _repos(db, 1), number, per_page)


@pytest.mark.parametrize(
    ("number", "total", "window"),
    [
        (1, 50, [1]),
        (1, 150, [1, 2, 3]),
        (1, 500, [1, 2, 3, None, 10]),
        (4, 500, [1, 2, 3, 4, 5, 6, None, 10]),  # 2..6 touch 1: no ellipsis
        (5, 500, [1, 2, 3, 4, 5, 6, 7, None, 10]),  # a gap of one page shows it
        (6, 500, [1, None, 4, 5, 6, 7, 8, 9, 10]),
        (10, 500, [1, None, 8, 9, 10]),
        (2_000, 100_000, [1, None, 1_998, 1_999, 2_000]),
    ],
)
def test_paging_window_shows_first_last_and_pages_around(
    number: int, total: int, window: list[int | None]
) -> None:
    assert paging.Page((), number, 50, total).window() == window


@pytest.mark.parametrize("total", [0, 1, 49, 50, 51, 99, 101, 1_000, 12_345])
def test_paging_window_never_leaves_the_list(total: int) -> None:
    pages = paging.Page((), 1, 50, total).pages
    for number in range(1, pages + 1):
        window = paging.Page((), number, 50, total).window()
        numbers = [n for n in window if n is not None]
        assert numbers == sorted(set(numbers)) and number in numbers
        assert numbers[0] == 1 and numbers[-1] == pages
        assert window[0] is not None and window[-1] is not None


def test_paging_counts_only_full_pages(db: Session) -> None:
    # why: a short page is the last one and says how long the list is; counting
    # too scanned a search's matches twice
    statement = _repos(db, 120)
    db.commit()
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        for number, total in ((1, 120), (2, 120), (3, 120)):
            page = paging.paginate(db, statement, number)
            assert page.total == total
        short = paging.paginate(db, statement.where(Repository.name < "r010"), 1)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert (short.total, short.pages, len(short.items)) == (10, 1, 10)
    counts = [s for s in seen if "count(" in s.lower()]
    assert len(counts) == 2  # pages 1 and 2; not the last page nor the short list


def test_paging_refuses_a_page_past_any_offset(db: Session) -> None:
    with pytest.raises(paging.PageOutOfRange, match="There is no page 999,999"):
        paging.paginate(db, _repos(db, 3), 999_999_999_999_999_999)
