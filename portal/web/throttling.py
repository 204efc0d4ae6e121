"""Starting a throttled attempt (login, password change): waiting, without holding
anything, while attempts already in flight could reach the limit.

See portal.domain.throttle for the rules. An attempt that finds the failures and
the attempts in flight together at the limit waits for some of those to be
settled: polling, with short sleeps, on a read that takes no lock, and holding no
database connection or transaction between polls. It waits MAX_WAIT at most: a
wait that long means password checks are taking far longer than they should (an
overloaded server), and the request is answered "busy" rather than held longer.
"""

from __future__ import annotations

import random
from time import monotonic, sleep

from sqlalchemy.orm import Session

from portal.domain import throttle
from portal.infra import clock, db

# How long an attempt may wait for attempts in flight, in seconds: far over the
# time ten password checks take, well under the 35 s after which the proxy gives
# up on a request (deploy/nginx.conf).
MAX_WAIT = 10.0
# Sleeps between two reads grow from the first to the last, in seconds.
FIRST_PAUSE = 0.005
LAST_PAUSE = 0.1


def start_attempt(
    email: str,
) -> throttle.Attempt | throttle.Throttled | throttle.Crowded:
    """Record a pending attempt for email in the request's session, committed.

    Throttled if the failures reach the limit (now or while waiting); Crowded if
    the attempts in flight still fill the limit after MAX_WAIT. Commits whatever
    the request's session holds first, so no lock is held while the caller checks
    the password (or while this waits).
    """
    session = db.get_session()
    deadline = monotonic() + MAX_WAIT
    pause = FIRST_PAUSE
    while True:
        with db.transaction(session):
            outcome = throttle.start_attempt(session, email, clock.now())
        if not isinstance(outcome, throttle.Crowded):
            return outcome
        # Committed: from here the session holds no connection until it is used.
        while True:
            if monotonic() + pause > deadline:
                return outcome
            # Jitter, so that waiters released together do not all try at once.
            sleep(pause * random.uniform(0.5, 1.5))
            pause = min(pause * 2, LAST_PAUSE)
            if not _crowded(email):
                break


def _crowded(email: str) -> bool:
    """Whether email's attempts in flight still fill the limit: a read on a
    connection of its own, returned at once, that takes no write lock (the
    request's session would take SQLite's, as a writer)."""
    with Session(db.engine()) as reader:
        return throttle.crowded(reader, email, clock.now())
