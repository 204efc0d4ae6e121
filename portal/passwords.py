"""Password hashing with argon2id at OWASP ASVS parameters (m=19456 KiB, t=2, p=1).

Each hash or verification needs 19 MiB while it runs. They all run on a small,
fixed set of threads, hash_concurrency() of them per process; requests queue for
a turn. argon2 is CPU-bound, so more at once than there are CPUs would not finish
a burst sooner, only take more memory: 64 parallel logins took a server from 80
to 580-715 MiB, and with these threads (2 CPUs) to 150 MiB (bench/login_burst.py).

Why threads of their own rather than a semaphore around the call in each request
thread: glibc's malloc keeps a freed 19 MiB block in the arena of the thread that
used it, and request threads spread over up to 8 arenas per CPU, so with only a
semaphore the same burst still peaked at 470-580 MiB. Hashing threads use a few
arenas, and reuse the blocks kept there. The bound is per process: several server
processes on one machine each get their own.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)

# Verified against when the email is unknown, so that a login for a missing account
# costs the same hash work as a wrong password (no account enumeration by timing).
_DUMMY_HASH = _hasher.hash("portal: no such account")


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


_workers: ThreadPoolExecutor


def _start_workers() -> None:
    """Create this process's hashing threads (started on first use)."""
    global _workers
    _workers = ThreadPoolExecutor(hash_concurrency(), thread_name_prefix="argon2")


_start_workers()
if hasattr(os, "register_at_fork"):
    # A forked child (e.g. a gunicorn worker) has none of its parent's threads;
    # the parent's pool would take its jobs and never run them.
    os.register_at_fork(after_in_child=_start_workers)


def hash_password(password: str) -> str:
    """An argon2id hash of password, with a fresh salt."""
    return _workers.submit(_hasher.hash, password).result()


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether password matches password_hash; None costs the same and is False."""
    check = _workers.submit(_hasher.verify, password_hash or _DUMMY_HASH, password)
    try:
        return check.result() and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether password_hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)
