"""A small thread-safe LRU map, for answers the app's Oso keeps across requests."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any


class LruCache:
    """At most ``size`` entries; the least recently used goes first. Size 0 keeps
    nothing (every ``get`` misses)."""

    def __init__(self, size: int) -> None:
        """An empty cache of at most size entries."""
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()  # gunicorn threads share the app's Oso

    def get(self, key: Hashable) -> Any | None:
        """The value for key (now the most recently used), or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        """Remember value for key, forgetting the oldest entry beyond size."""
        if self.size <= 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        """How many entries the cache holds."""
        return len(self._entries)
