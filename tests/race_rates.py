"""How often each page race fails per round without the lock it proves: the
measure behind tests/races.py's PAGE_RACE_ROUNDS. Not part of the suite (no
test_ prefix); run it by name:

    PORTAL_TEST_DATABASES="sqlite postgresql" .venv/bin/python -m pytest -s \\
        -p no:xdist tests/race_rates.py

It takes the lock out (PostgreSQL: the organization's FOR UPDATE; SQLite: the
writers' BEGIN IMMEDIATE), runs each race ROUNDS times one round at a time, and
prints how many rounds failed and how.
"""

from __future__ import annotations

from collections import Counter

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain import roles
from portal.domain.models import Organization
from portal.infra import db
from tests.races import RACES, race_owners_through_the_pages

ROUNDS = 30


def _unlocked(session: Session, organization_id: int) -> Organization | None:
    """roles.lock_organization without FOR UPDATE."""
    return session.scalar(
        select(Organization)
        .where(Organization.id == organization_id)
        .execution_options(populate_existing=True)
    )


@pytest.mark.parametrize("race", list(RACES))
def test_race_fails_without_its_lock(
    app: Flask, race: str, database_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database_backend == "postgresql":
        monkeypatch.setattr(roles, "lock_organization", _unlocked)
    else:  # every request a reader: plain BEGIN, no write lock up front
        monkeypatch.setattr(db, "SAFE_METHODS", db.SAFE_METHODS | {"POST"})
    failures: Counter[str] = Counter()
    for _ in range(ROUNDS):
        try:
            race_owners_through_the_pages(app, race, rounds=1)
        except AssertionError as error:
            failures[str(error).splitlines()[0][:80]] += 1
    total = sum(failures.values())
    print(f"\n{database_backend} {race}: {total}/{ROUNDS} failed {dict(failures)}")
