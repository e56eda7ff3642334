"""A per-process cache whose entries are reused for a fixed time, then loaded again.

Settings that change rarely (partners, secrets) are read once per interval per instance instead
of once per event; the interval bounds how long a change takes to be seen.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Generic, Hashable, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], V]) -> V:
        """The cached value of ``key`` while fresh, else ``load()`` (cached too, None included).
        Two threads missing at once may both load: loads here are idempotent reads."""
        now = self._clock()
        with self._lock:
            cached = self._entries.get(key)
        if cached and now - cached[0] < self._ttl:
            return cached[1]
        value = load()
        with self._lock:
            self._entries[key] = (now, value)
        return value
