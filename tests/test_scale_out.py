"""Scale out: two gunicorn instances, one PostgreSQL database, no shared memory.

Sessions are signed cookies checked against the user's token in the database,
and the login throttle lives in the database, so any instance can answer any
request. Each test starts both instances on free 127.0.0.1 ports against a schema
of its own, and stops them afterwards.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from portal.domain import demo
from portal.domain.models import OrganizationRole, User
from tests.test_serve import Browser, Server, start_server, stop_server

# why: gunicorn servers and races measure time and contention; alone they
# neither slow the parallel part nor get slowed by it (see the Makefile).
pytestmark = pytest.mark.serial

ROUNDS = 50


@pytest.fixture
def servers(pg_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """Two instances of the app, as on two hosts, sharing one database."""
    first = start_server(pg_url, tmp_path / "a.log")
    try:
        second = start_server(pg_url, tmp_path / "b.log")
    except BaseException:
        stop_server(first)
        raise
    yield first, second
    stop_server(second)
    stop_server(first)


def _on(browser: Browser, server: Server) -> Browser:
    """The same browser (cookie jar and all) talking to another instance."""
    browser.base = server.url
    return browser


def _copy_of(browser: Browser) -> Browser:
    """Another browser holding a copy of browser's cookies (a stolen cookie)."""
    thief = Browser(browser.base, None)
    thief.jar.clear()
    for cookie in browser.jar:
        thief.jar.set_cookie(copy.copy(cookie))
    thief.token = browser.token
    return thief


def test_scale_out_a_session_made_on_one_instance_works_on_the_other(
    servers: tuple[Server, Server],
) -> None:
    first, second = servers
    browser = Browser(first.url, demo.JOHN)
    status, page = _on(browser, second).get("/orgs")
    assert status == 200 and demo.JOHN in page and "The Beatles" in page


def test_scale_out_logout_on_one_instance_ends_copied_cookies_on_both(
    servers: tuple[Server, Server],
) -> None:
    first, second = servers
    browser = Browser(first.url, demo.PAUL)
    thief = _copy_of(browser)
    assert _on(thief, first).get("/orgs")[0] == 200
    assert _on(thief, second).get("/orgs")[0] == 200
    assert _on(browser, second).post("/logout", {}) == 302
    assert _on(thief, first).get("/orgs")[0] == 302  # to the login page
    assert _on(thief, second).get("/orgs")[0] == 302


def test_scale_out_login_throttle_counts_failures_on_both_instances(
    servers: tuple[Server, Server],
) -> None:
    # why: a counter in process memory would allow 10 guesses per instance; the
    # database's counter allows 10 in all
    first, second = servers
    guesser = Browser(first.url, None)
    wrong = {"email": demo.RINGO, "password": "not the password"}
    statuses = [
        _on(guesser, server).post("/login", wrong) for server in [first, second] * 5
    ]
    assert statuses == [422] * 10
    assert _on(guesser, second).post("/login", wrong) == 429
    right = {"email": demo.RINGO, "password": demo.PASSWORD}
    assert _on(guesser, first).post("/login", right) == 429  # even the right one


def _owners(url: str) -> list[str]:
    """The emails of The Beatles' owners, read from the database."""
    engine = create_engine(url)
    with Session(engine) as session:
        owners = session.scalars(
            select(User.email)
            .join(OrganizationRole)
            .where(
                OrganizationRole.organization_id == demo.BEATLES_ID,
                OrganizationRole.name == "OWNER",
            )
            .order_by(User.email)
        ).all()
    engine.dispose()
    return list(owners)


def _member_page(url: str, email: str) -> tuple[str, dict[str, str]]:
    """email's member page in The Beatles and the role row its forms carry
    (a change keeps the row: the same for every round)."""
    engine = create_engine(url)
    with Session(engine) as session:
        user_id, role_id = session.execute(
            select(User.id, OrganizationRole.id)
            .join(OrganizationRole)
            .where(
                User.email == email,
                OrganizationRole.organization_id == demo.BEATLES_ID,
            )
        ).one()
    engine.dispose()
    return f"/orgs/1/roles/{user_id}", {"current_id": str(role_id)}


def _demote(
    barrier: threading.Barrier,
    answers: dict[str, int],
    who: str,
    browser: Browser,
    target_page: tuple[str, dict[str, str]],
) -> None:
    """Post target's member page demoting them, at the same moment as the
    other (the roles page's form invites since issue 19)."""
    path, shown = target_page
    barrier.wait()
    answers[who] = browser.post(path, {"name": "MEMBER", "current": "OWNER", **shown})


def test_scale_out_two_owners_demoting_each_other_on_two_instances(
    servers: tuple[Server, Server], pg_url: str
) -> None:
    # why: the organization row lock must hold across processes and hosts; a
    # lock in process memory would let both demotions through (no owner left)
    first, second = servers
    john = Browser(first.url, demo.JOHN)
    paul = Browser(second.url, demo.PAUL)
    pages = {email: _member_page(pg_url, email) for email in (demo.JOHN, demo.PAUL)}
    path, shown = pages[demo.PAUL]
    promote = {"name": "OWNER", "current": "MEMBER", **shown}
    assert john.post(path, promote) == 302
    outcomes: list[tuple[int, int]] = []
    for round_ in range(ROUNDS):
        barrier = threading.Barrier(2)
        answers: dict[str, int] = {}
        threads = [
            threading.Thread(
                target=_demote,
                args=(barrier, answers, "john", john, pages[demo.PAUL]),
            ),
            threading.Thread(
                target=_demote,
                args=(barrier, answers, "paul", paul, pages[demo.JOHN]),
            ),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        statuses = (answers["john"], answers["paul"])
        outcomes.append(statuses)
        owners = _owners(pg_url)
        assert len(owners) == 1, f"round {round_}: owners {owners}, {statuses}"
        # One demotion went through; the other was refused: 403 when its sender
        # was demoted first (no CREATE_ROLE any more), 409 if it was the last.
        assert sorted(statuses) in ([302, 403], [302, 409]), f"round {round_}"
        winner, loser = (
            (john, demo.PAUL) if owners == [demo.JOHN] else (paul, demo.JOHN)
        )
        path, shown = pages[loser]
        back = {"name": "OWNER", "current": "MEMBER", **shown}
        assert winner.post(path, back) == 302
    assert all(max(pair) < 500 for pair in outcomes)
    assert len(outcomes) == ROUNDS
