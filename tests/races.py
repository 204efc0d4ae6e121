"""Two owners demoting each other at the same moment, on any database."""

from __future__ import annotations

import threading

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from portal import demo, roles
from portal.db import WRITER


def _demote(
    engine: Engine, target: str, barrier: threading.Barrier, refused: list[str]
) -> None:
    """Demote target to MEMBER the way a POST request does: writer session, lock."""
    with Session(engine, execution_options=WRITER) as session:
        barrier.wait()
        try:
            org = roles.lock_organization(session, demo.BEATLES_ID)
            user = roles.find_user(session, target)
            roles.reassign_user_role(session, org, user, "MEMBER")
        except roles.LastOwner:
            refused.append(target)


def race_owners_demoting_each_other(engine: Engine, rounds: int) -> None:
    """Make John and Paul owners, then race them demoting each other, rounds times.

    Asserts after every round that exactly one demotion was refused and one owner
    is left.
    """
    with Session(engine) as setup:
        org = roles.lock_organization(setup, demo.BEATLES_ID)
        roles.assign_role(setup, org, roles.find_user(setup, demo.PAUL), "OWNER")
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
        with Session(engine) as check:
            org = roles.lock_organization(check, demo.BEATLES_ID)
            assert roles.count_owners(check, org) == 1, f"round {round_}"
            assert len(refused) == 1, f"round {round_}: refused {refused}"
            # The demotion of refused[0] was refused, so the other is now MEMBER:
            # make them OWNER again for the next round.
            demoted = demo.PAUL if refused[0] == demo.JOHN else demo.JOHN
            roles.assign_role(check, org, roles.find_user(check, demoted), "OWNER")
