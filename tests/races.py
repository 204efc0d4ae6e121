"""Two owners demoting each other at the same moment, on any database."""

from __future__ import annotations

import threading

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from portal import demo, roles
from portal.db import WRITER, transaction


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
