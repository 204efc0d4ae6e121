"""Password hashing with argon2id; its cost is a setting (PASSWORD_HASH_COST).

The default, ``ASVS``, is OWASP ASVS's argon2id (m=19456 KiB, t=2, p=1). Test
suites set ``FAST``, argon2's minimum, so that a login pays for what a test
checks rather than 19 MiB of hashing (Flask-Security's tests and
cookiecutter-flask's ``BCRYPT_LOG_ROUNDS = 4`` do the same). Verifying a hash
costs what the hash itself says, whatever the setting; a login whose stored hash
is weaker than the setting rehashes it (needs_rehash).

Outside an app context (seeding scripts, benchmarks) the cost is ASVS unless the
caller passes one.

Each ASVS hash or verification needs 19 MiB while it runs. They all run on a
small, fixed set of threads, hash_concurrency() of them per process; requests
queue for a turn. argon2 is CPU-bound, so more at once than there are CPUs would
not finish a burst sooner, only take more memory: 64 parallel logins took a
server from 80 to 580-715 MiB, and with these threads (2 CPUs) to 150 MiB
(bench/login_burst.py).

Why threads of their own rather than a semaphore around the call in each request
thread: glibc's malloc keeps a freed 19 MiB block in the arena of the thread that
used it, and request threads spread over up to 8 arenas per CPU, so with only a
semaphore the same burst still peaked at 470-580 MiB. Hashing threads use a few
arenas, and reuse the blocks kept there. The bound is per process: several server
processes on one machine each get their own.

Nothing happens at import: the threads start, and the dummy hash is made, on
first use.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_app_context


@dataclass(frozen=True)
class HashCost:
    """argon2id's parameters: passes, memory in KiB, lanes."""

    time_cost: int
    memory_cost: int
    parallelism: int


#: OWASP ASVS 4.0 (V2.4.1): argon2id, 19 MiB, 2 passes, 1 lane. The default.
ASVS = HashCost(time_cost=2, memory_cost=19456, parallelism=1)
#: argon2's minimum (8 KiB, 1 pass): for test suites only, never for real accounts.
FAST = HashCost(time_cost=1, memory_cost=8, parallelism=1)


@cache
def _hasher(cost: HashCost) -> PasswordHasher:
    """The argon2id hasher at cost (one per cost, made on first use)."""
    return PasswordHasher(
        time_cost=cost.time_cost,
        memory_cost=cost.memory_cost,
        parallelism=cost.parallelism,
    )


@cache
def _dummy_hash(cost: HashCost) -> str:
    """A hash at cost to verify against when the email is unknown, so that a login
    for a missing account costs the same hash work as a wrong password (no account
    enumeration by timing)."""
    return _hasher(cost).hash("portal: no such account")


def configured_cost() -> HashCost:
    """The current app's PASSWORD_HASH_COST; ASVS outside an app context."""
    if has_app_context():
        cost = current_app.config["PASSWORD_HASH_COST"]
        if not isinstance(cost, HashCost):
            raise TypeError(f"PASSWORD_HASH_COST must be a HashCost, not {cost!r}")
        return cost
    return ASVS


def hash_concurrency() -> int:
    """How many hashes may run at once in this process: $PORTAL_HASH_CONCURRENCY,
    else the number of CPUs it may use."""
    configured = os.environ.get("PORTAL_HASH_CONCURRENCY", "").strip()
    if configured:
        return max(1, int(configured))
    try:
        return len(os.sched_getaffinity(0))  # a container may get fewer than all
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class _Workers:
    """This process's hashing threads, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._fork_hook = False

    def pool(self) -> ThreadPoolExecutor:
        """The running pool, started now if this process has none yet."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    hash_concurrency(), thread_name_prefix="argon2"
                )
                if not self._fork_hook and hasattr(os, "register_at_fork"):
                    # A forked child (e.g. a gunicorn worker) has none of its
                    # parent's threads: the parent's pool would take its jobs and
                    # never run them. The child starts its own on first use.
                    os.register_at_fork(after_in_child=self._forget)
                    self._fork_hook = True
            return self._pool

    def _forget(self) -> None:
        """In a forked child: drop the parent's pool (and a lock it may hold)."""
        self._lock = threading.Lock()
        self._pool = None


_workers = _Workers()


def hash_password(password: str, cost: HashCost | None = None) -> str:
    """An argon2id hash of password, with a fresh salt, at cost (default: the
    configured cost)."""
    hasher = _hasher(cost or configured_cost())
    return _workers.pool().submit(hasher.hash, password).result()


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether password matches password_hash; None costs the same and is False."""
    cost = configured_cost()
    stored = password_hash or _dummy_hash(cost)
    check = _workers.pool().submit(_hasher(cost).verify, stored, password)
    try:
        return check.result() and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether password_hash was made with other parameters than the configured
    ones."""
    return _hasher(configured_cost()).check_needs_rehash(password_hash)
