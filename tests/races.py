"""Races on any database: two owners demoting each other, two password changes."""

from __future__ import annotations

import threading
import time

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from portal import demo, roles
from portal.db import WRITER, transaction
from portal.models import User
from portal.passwords import verify_password
from tests.conftest import AuthActions, csrf_token


def _demote(
    engine: Engine, target: str, barrier: threading.Barrier, refused: list[str]
) -> None:
    """Demote target to MEMBER the way a POST request does: writer session, lock."""
    with Session(engine, execution_options=WRITER) as session:
        barrier.wait()
        try:
            with transaction(session):
                org = roles.lock_organization(session, demo.BEATLES_ID)
                assert org is not None
                user = roles.find_user(session, target)
                other = demo.PAUL if target == demo.JOHN else demo.JOHN
                actor = roles.find_user(session, other)
                roles.reassign_user_role(session, org, user, "MEMBER", actor=actor)
        except roles.LastOwner:
            refused.append(target)


def race_owners_demoting_each_other(engine: Engine, rounds: int) -> None:
    """Make John and Paul owners, then race them demoting each other, rounds times.

    Asserts after every round that exactly one demotion was refused and one owner
    is left.
    """
    with Session(engine) as setup, transaction(setup):
        org = roles.lock_organization(setup, demo.BEATLES_ID)
        assert org is not None
        paul = roles.find_user(setup, demo.PAUL)
        roles.assign_role(setup, org, paul, "OWNER", actor=None)
    for round_ in range(rounds):
        barrier = threading.Barrier(2)
        refused: list[str] = []
        threads = [
            threading.Thread(target=_demote, args=(engine, email, barrier, refused))
            for email in (demo.JOHN, demo.PAUL)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with Session(engine) as check, transaction(check):
            org = roles.lock_organization(check, demo.BEATLES_ID)
            assert org is not None
            assert roles.count_owners(check, org) == 1, f"round {round_}"
            assert len(refused) == 1, f"round {round_}: refused {refused}"
            # The demotion of refused[0] was refused, so the other is now MEMBER:
            # make them OWNER again for the next round.
            demoted = demo.PAUL if refused[0] == demo.JOHN else demo.JOHN
            again = roles.find_user(check, demoted)
            roles.assign_role(check, org, again, "OWNER", actor=None)


def race_password_changes(app: Flask, rounds: int) -> None:
    """Two sessions of Paul change his password at the same moment, rounds times.

    Asserts after every round that one change went through (302) and the other was
    refused (409, the form again), that only the winner's new password works, and
    that only the winner's session is still logged in.
    """
    password = demo.PASSWORD
    clients = [app.test_client(), app.test_client()]
    for client in clients:
        assert AuthActions(client).login(demo.PAUL, password).status_code == 302
    for round_ in range(rounds):
        new = [f"new password {round_} for session {i}" for i in range(2)]
        responses = _change_passwords_at_once(clients, password, new)
        statuses = [response.status_code for response in responses]
        assert sorted(statuses) == [302, 409], f"round {round_}: {statuses}"
        winner, loser = (0, 1) if statuses[0] == 302 else (1, 0)
        assert "Your password was not changed" in responses[loser].text
        assert 'name="current_password"' in responses[loser].text
        assert clients[winner].get("/orgs").status_code == 200
        # The winner rotated the session token: the loser's cookie is dead.
        assert clients[loser].get("/orgs").status_code == 302
        with Session(app.extensions["portal.engine"]) as check:
            stored = check.scalar(
                select(User.password_hash).where(User.email == demo.PAUL)
            )
        assert not verify_password(stored, new[loser]), f"round {round_}"
        password = new[winner]
        # Logging in again with the winner's password proves it works.
        login = AuthActions(clients[loser]).login(demo.PAUL, password)
        assert login.status_code == 302, f"round {round_}"


def _change_passwords_at_once(
    clients: list[FlaskClient], current: str, new: list[str]
) -> list[TestResponse]:
    """POST a password change from each client at the same moment; the responses."""
    forms = [
        {
            "csrf_token": csrf_token(client, "/account/password"),
            "current_password": current,
            "new_password": password,
            "confirm": password,
        }
        for client, password in zip(clients, new, strict=True)
    ]
    barrier = threading.Barrier(len(clients))
    responses: dict[int, TestResponse] = {}

    def change(i: int) -> None:
        barrier.wait()
        responses[i] = clients[i].post("/account/password", data=forms[i])

    real_verify = PasswordHasher.verify

    def slow_verify(self: PasswordHasher, hash: str, password: str) -> bool:
        # why: on a fast machine one request could verify, hash and commit before
        # the other has even read the account; a slower check makes both read the
        # same password hash before either writes, which is the race under test
        time.sleep(0.1)
        return real_verify(self, hash, password)

    threads = [threading.Thread(target=change, args=(i,)) for i in range(len(clients))]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PasswordHasher, "verify", slow_verify)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return [responses[i] for i in range(len(clients))]
