"""The retry schedule of a failed delivery: the platform's own, not Pub/Sub's.

Attempt n (1-based) that fails is tried again after ``min(max_backoff, min_backoff * 2**(n-1))``
seconds, shortened by a random fraction of up to half ("equal jitter") so the retries of events
that failed together do not all come back at the same instant. After ``max_attempts`` failed
attempts the event is held with reason ``max_attempts``. With the production defaults (10 s,
600 s, 30 attempts) the waits are about 10, 20, 40, 80, 160, 320 s and then 600 s: an event is
retried for about 4 hours. Attempts are counted per round: an operator's replay starts a new one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    min_backoff_seconds: float
    max_backoff_seconds: float
    random: Callable[[], float] = field(default=random.random, compare=False)

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

    def ceiling(self, attempts: int) -> float:
        """The longest wait after ``attempts`` failed attempts (before jitter)."""
        return min(self.max_backoff_seconds, self.min_backoff_seconds * 2 ** max(0, attempts - 1))

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt: in [ceiling / 2, ceiling]."""
        ceiling = self.ceiling(attempts)
        return ceiling / 2 + ceiling / 2 * self.random()
