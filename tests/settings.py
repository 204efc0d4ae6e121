"""Settings every app made by a test gets, so that a test pays for what it checks.

- ``PASSWORD_HASH_COST``: argon2's minimum instead of ASVS's 19 MiB per hash (a
  login cost ~110 ms of hashing). The tests about the real cost opt back in with
  the ``asvs_hashing`` marker (see conftest.py).
- ``TEMPLATE_BYTECODE_CACHE``: one Jinja bytecode cache per test process, so the
  apps of a run (each test process's shared one, and the apps tests make of
  their own) compile each template once instead of once each.

Imports nothing from pytest, so bench/ and scripts can use it too.
"""

from __future__ import annotations

import threading
from typing import Any

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket

from portal.infra.passwords import FAST, HashCost


class MemoryBytecodeCache(BytecodeCache):
    """Compiled templates in a dict, shared by every app of this process.

    Keyed by Jinja's own key (template name and file); a bucket whose source
    checksum no longer matches is recompiled by Jinja, so an edited template is
    never served stale.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill bucket from the cache, if it holds its key."""
        with self._lock:
            code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep bucket's compiled code for the next app."""
        code = bucket.bytecode_to_string()
        with self._lock:
            self._code[bucket.key] = code

    def clear(self) -> None:
        """Forget every compiled template."""
        with self._lock:
            self._code.clear()


BYTECODE_CACHE = MemoryBytecodeCache()


def app_settings(cost: HashCost = FAST) -> dict[str, Any]:
    """The settings for an app a test makes (hashing at cost)."""
    return {"PASSWORD_HASH_COST": cost, "TEMPLATE_BYTECODE_CACHE": BYTECODE_CACHE}
