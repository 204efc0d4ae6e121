"""portal.infra.clock: one clock for everything time-based."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.models import User
from portal.infra import clock

MOMENT = datetime(2030, 6, 7, 8, 9, 10, tzinfo=UTC)


def test_clock_follows_the_apps_clock(app: Flask) -> None:
    app.config["CLOCK"] = lambda: MOMENT
    with app.app_context():
        assert clock.now() == MOMENT


def test_clock_outside_an_app_is_the_systems_utc_time() -> None:
    before = datetime.now(UTC)
    assert before <= clock.now() <= datetime.now(UTC)


def test_clock_stamps_new_rows(app: Flask, db: Session) -> None:
    # why: row times and session expiry must follow the same clock in tests
    app.config["CLOCK"] = lambda: MOMENT
    with app.app_context():
        db.add(User(email="new@example.com", password_hash="x"))
        db.commit()
    stamped = db.scalar(select(User.created_at).where(User.email == "new@example.com"))
    assert stamped is not None
    assert stamped.replace(tzinfo=UTC) == MOMENT  # SQLite drops the zone: it is UTC
