"""The login throttle counts failures, not attempts still being checked.

The rules themselves (10 failures in 15 minutes, per email, across instances,
under a burst of guesses) are tested in tests/test_security.py; here, what
happens to attempts whose password is still being checked: a right password is
never refused because other attempts are merely in flight.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from portal import auth as auth_module
from portal.domain import demo, throttle
from portal.domain.models import LoginFailure
from portal.infra import passwords
from portal.infra.db import writer_session
from portal.web import throttling
from tests.conftest import AuthActions, csrf_token
from tests.database import committed_scalar
from tests.test_security import Clock, parallel_logins

# How long each password check takes in the bursts below: long enough that the
# burst's attempts are all in flight at once, as they are at the real hash cost
# on a busy server.
CHECK = 0.05


@pytest.fixture
def clock(app: Flask) -> Clock:
    clock = Clock()
    app.config["CLOCK"] = clock
    return clock


@pytest.fixture
def slow_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every login's password check takes CHECK seconds longer."""
    real = passwords.verify_password

    def slow_verify(stored: str | None, password: str) -> bool:
        time.sleep(CHECK)
        return real(stored, password)

    monkeypatch.setattr(auth_module, "verify_password", slow_verify)


def _rows(db: Session, email: str, pending: bool) -> int:
    return committed_scalar(
        db,
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.email == email, LoginFailure.pending.is_(pending)),
    )


def test_throttle_burst_of_right_and_wrong_passwords_refuses_no_right_one(
    app: Flask, clock: Clock, db: Session, slow_checks: None
) -> None:
    # why: attempts still waiting for their password check were counted as
    # failures: in a 256-login burst on one email, 10 right passwords got 429
    logins = ["wrong"] * 9 + [demo.PASSWORD] * 55  # 9: below the limit
    statuses = parallel_logins(app, demo.PAUL, logins)
    right = [s for s, p in zip(statuses, logins, strict=True) if p != "wrong"]
    wrong = [s for s, p in zip(statuses, logins, strict=True) if p == "wrong"]
    refused = sum(status != 302 for status in right)
    assert refused == 0, f"right passwords refused: {refused} of {len(right)}"
    assert wrong == [422] * 9
    assert _rows(db, demo.PAUL, pending=True) == 0  # none left in flight


def test_throttle_burst_of_wrong_passwords_checks_no_more_than_the_limit(
    app: Flask, clock: Clock, db: Session, slow_checks: None
) -> None:
    # why: the guesses beyond the limit wait for those in flight, and are refused
    # once those are failures; none is checked, none stays in flight
    statuses = parallel_logins(app, demo.PAUL, ["wrong"] * 24)
    assert sorted(statuses) == [422] * 10 + [429] * 14
    assert _rows(db, demo.PAUL, pending=False) == 10
    assert _rows(db, demo.PAUL, pending=True) == 0


def _in_flight(engine: Engine, email: str, now: Clock, count: int) -> None:
    """count attempts on email whose passwords are being checked elsewhere (or
    whose processes died while checking)."""
    for _ in range(count):
        with writer_session(engine) as session:
            attempt = throttle.start_attempt(session, email, now())
            assert isinstance(attempt, throttle.Attempt)


def _settle_all(engine: Engine, email: str, right: bool) -> None:
    """The attempts in flight on email end: all wrong, or one right."""
    with writer_session(engine) as session:
        if right:
            throttle.succeeded(session, email)
            return
        pending = LoginFailure.pending.is_(True)
        ids = session.scalars(
            select(LoginFailure.id).where(LoginFailure.email == email, pending)
        ).all()
        for attempt_id in ids:
            throttle.failed(session, throttle.Attempt(attempt_id, email))


@pytest.fixture
def on_wait(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Callable[[], None]], list[int]]:
    """Run an action the first time a throttled attempt waits; the connections
    the app held at each of its sleeps (there must be none)."""

    def install(action: Callable[[], None]) -> list[int]:
        held: list[int] = []
        real_sleep = time.sleep

        def sleep(seconds: float) -> None:
            held.append(app.extensions["portal.engine"].pool.checkedout())
            if len(held) == 1:
                action()
            real_sleep(seconds)

        monkeypatch.setattr(throttling, "sleep", sleep)
        return held

    return install


def test_throttle_waits_for_attempts_in_flight_then_refuses_if_they_failed(
    app: Flask,
    auth: AuthActions,
    clock: Clock,
    on_wait: Callable[[Callable[[], None]], list[int]],
) -> None:
    # why: with 10 attempts in flight, an 11th checked at once could be the 11th
    # wrong guess; it waits, and once they are failures it is refused as ever
    engine = app.extensions["portal.engine"]
    _in_flight(engine, demo.PAUL, clock, 10)
    held = on_wait(lambda: _settle_all(engine, demo.PAUL, right=False))
    response = auth.login(demo.PAUL)
    assert response.status_code == 429
    assert "try again in 15 minutes" in response.text
    assert held and set(held) == {0}  # no connection held while it waited


def test_throttle_waits_for_attempts_in_flight_then_logs_in_if_one_was_right(
    app: Flask,
    auth: AuthActions,
    clock: Clock,
    db: Session,
    on_wait: Callable[[Callable[[], None]], list[int]],
) -> None:
    engine = app.extensions["portal.engine"]
    _in_flight(engine, demo.PAUL, clock, 10)
    held = on_wait(lambda: _settle_all(engine, demo.PAUL, right=True))
    assert auth.login(demo.PAUL).status_code == 302
    assert held and set(held) == {0}
    assert _rows(db, demo.PAUL, pending=True) == _rows(db, demo.PAUL, False) == 0


def test_throttle_wait_is_bounded_then_busy_503(
    app: Flask,
    auth: AuthActions,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # why: attempts in flight that never end must not hold a request for long
    monkeypatch.setattr(throttling, "MAX_WAIT", 0.3)
    _in_flight(app.extensions["portal.engine"], demo.PAUL, clock, 10)
    started = time.monotonic()
    response = auth.login(demo.PAUL)
    assert time.monotonic() - started < 5  # not the 10 s of MAX_WAIT
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert "being checked right now" in response.text
    assert any(r.getMessage().startswith("login busy: user=") for r in caplog.records)
    assert auth.login(demo.RINGO).status_code == 302  # another email: no wait


def test_throttle_attempts_whose_process_died_count_as_failures_then_expire(
    app: Flask, auth: AuthActions, clock: Clock, db: Session, runner: FlaskCliRunner
) -> None:
    # why: an attempt recorded as pending must not stay in flight for good, nor
    # be a free guess for someone who can crash the check
    _in_flight(app.extensions["portal.engine"], demo.PAUL, clock, 10)
    clock.advance(seconds=61)  # past PENDING_TTL: they died
    response = auth.login(demo.PAUL)
    assert response.status_code == 429
    assert "try again in 14 minutes" in response.text
    clock.advance(minutes=14)  # the window has passed
    assert auth.login(demo.PAUL).status_code == 302
    assert _rows(db, demo.PAUL, pending=True) == _rows(db, demo.PAUL, False) == 0
    # An email nobody tries again: the daily prune deletes its dead attempts.
    _in_flight(app.extensions["portal.engine"], "gone@example.com", clock, 1)
    clock.advance(minutes=15)
    result = runner.invoke(args=["prune-login-failures"])
    assert result.output == "Deleted 1 expired login failures.\n", result.output


def test_throttle_wrong_attempts_are_settled_as_failures(
    app: Flask, client: FlaskClient, auth: AuthActions, clock: Clock, db: Session
) -> None:
    # why: every ended attempt leaves a failure or nothing, never a pending row
    auth.login("nobody@example.com", "wrong")  # no such account
    assert _rows(db, "nobody@example.com", pending=False) == 1
    auth.login(demo.PAUL, "wrong")
    assert _rows(db, demo.PAUL, pending=False) == 1
    assert auth.login(demo.PAUL).status_code == 302
    data = {
        "csrf_token": csrf_token(client, "/account/password"),
        "current_password": "wrong guess",
        "new_password": "a long new password",
        "confirm": "a long new password",
    }
    assert client.post("/account/password", data=data).status_code == 422
    assert _rows(db, demo.PAUL, pending=False) == 1
    assert _rows(db, demo.PAUL, pending=True) == 0
    assert _rows(db, "nobody@example.com", pending=True) == 0
