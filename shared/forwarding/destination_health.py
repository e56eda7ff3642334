"""What one instance knows about each destination's health: its circuit and its usual latency.

**Circuit.** After ``failure_threshold`` consecutive failed attempts at a destination its circuit
opens: attempts are not made (they count as failed attempts and the retry policy reschedules
them at once), so a partner whose endpoint fails or hangs does not hold threads, or push
requests, that other partners' events need. The circuit stays open ``open_seconds``, doubled at
each failed probe up to ``max_open_seconds`` (the retry policy's longest wait, so a recovered
destination is probed within one retry interval); then one attempt is let through as a probe
(half-open): if it succeeds the circuit closes and ``record`` says the destination recovered (the
caller then brings its pending retries forward), otherwise it opens again. Failures that say
nothing about the endpoint (a value the destination cannot hold) are not counted.

**Inline budget.** An attempt made while a Pub/Sub push waits (the first one) is bounded by what
the destination usually takes: ``latency_factor`` times the moving average of its recent
successful attempts, at least ``min_inline_seconds``, at most its own timeout (its whole timeout
until ``min_samples`` successes are known). A partner that usually answers in 50 ms and starts
hanging then holds a push for half a second, not for its 10 s timeout; the retries, made by the
re-driver outside the pushes, wait the full timeout.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Hashable


@dataclass
class _Destination:
    failures: int = 0
    openings: int = 0
    open_until: float = 0.0
    probing: bool = False
    latency: float = 0.0  # moving average of successful attempts, seconds
    samples: int = 0


class DestinationHealth:
    def __init__(self, *, failure_threshold: int, open_seconds: float, max_open_seconds: float,
                 min_inline_seconds: float, latency_factor: float = 10.0, min_samples: int = 3,
                 smoothing: float = 0.2, clock: Callable[[], float] = time.monotonic):
        self._threshold = failure_threshold
        self._open_seconds = open_seconds
        self._max_open_seconds = max_open_seconds
        self._min_inline = min_inline_seconds
        self._factor = latency_factor
        self._min_samples = min_samples
        self._smoothing = smoothing
        self._clock = clock
        self._destinations: dict[Hashable, _Destination] = {}
        self._lock = threading.Lock()

    def refusal(self, key: Hashable) -> str | None:
        """None when an attempt may be made now, else why not (the caller reschedules)."""
        with self._lock:
            state = self._destinations.get(key)
            if state is None or state.failures < self._threshold:
                return None
            remaining = state.open_until - self._clock()
            if remaining > 0:
                return (f"not attempted: circuit open after {state.failures} consecutive failures "
                        f"(next probe in {remaining:.0f} s)")
            if state.probing:
                return "not attempted: circuit half-open, a probe attempt is in flight"
            state.probing = True
            return None

    def inline_timeout(self, key: Hashable, full_timeout: float) -> float:
        with self._lock:
            state = self._destinations.get(key)
            if state is None or state.samples < self._min_samples:
                return full_timeout
            return min(full_timeout, max(self._min_inline, self._factor * state.latency))

    def record(self, key: Hashable, ok: bool, seconds: float) -> bool:
        """Record an attempt's outcome; True when it closed an open circuit (the destination
        recovered)."""
        with self._lock:
            state = self._destinations.setdefault(key, _Destination())
            was_probe, state.probing = state.probing, False
            if ok:
                recovered = state.failures >= self._threshold
                state.failures = state.openings = 0
                state.latency = seconds if not state.samples else (
                    (1 - self._smoothing) * state.latency + self._smoothing * seconds)
                state.samples += 1
                return recovered
            state.failures += 1
            # Attempts already in flight when the circuit opened do not extend it; a failed probe does.
            if was_probe or state.failures == self._threshold:
                state.openings += 1
                period = min(self._max_open_seconds, self._open_seconds * 2 ** (state.openings - 1))
                state.open_until = self._clock() + period
            return False

    def release(self, key: Hashable) -> None:
        """An attempt ended without saying anything about the endpoint: let the next one probe."""
        with self._lock:
            state = self._destinations.get(key)
            if state is not None:
                state.probing = False
