"""Password hashing with argon2id at OWASP ASVS parameters (m=19456 KiB, t=2, p=1)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)

# Verified against when the email is unknown, so that a login for a missing account
# costs the same hash work as a wrong password (no account enumeration by timing).
_DUMMY_HASH = _hasher.hash("portal: no such account")


def hash_password(password: str) -> str:
    """An argon2id hash of password, with a fresh salt."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether password matches password_hash; None costs the same and is False."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and (
            password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether password_hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)
