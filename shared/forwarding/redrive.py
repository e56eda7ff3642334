"""The re-driver: makes each retry when it is due, outside Pub/Sub's pushes.

A forwarder that fails a delivery records it ``retrying`` with ``nextAttemptAt`` and the event,
and acknowledges the message. The re-driver (function ``forward_redrive``, invoked every minute by
Cloud Scheduler; every second by the local stack) reads the deliveries due, takes each one with a
precondition on the version it read (two runs never make the same retry twice) and moves its
deadline one lease ahead, then makes the attempt itself with the forwarder's own logic
(shared/forwarding/forwarder.py, ``inline=False``): the destination's full timeout, its circuit,
the retry policy, holds. A retry waiting on a hanging partner holds one of the re-driver's
workers, never a push request of the forwarders, so it cannot slow other partners' new events.

The same query is the reconciliation: a delivery whose attempt never reported (an instance died
mid-attempt: ``delivering`` past its lease) or whose retry was lost (``retrying`` past the lease
the re-driver set) is due again, so nothing stays pending unnoticed.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Mapping

from shared.forwarding.delivery_log import DeliveryLog, DueDelivery
from shared.forwarding.forwarder import Forwarder
from shared.forwarding.message import (
    DESTINATION_ATTRIBUTE,
    REDRIVE_ATTRIBUTE,
    REPLAY_FOR_ATTRIBUTE,
    PubSubMessage,
)
from shared.platform.clock import Clock, utc_now

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RedriveReport:
    due: int = 0
    # Retries made (whatever their outcome: delivered, rescheduled or held).
    redriven: int = 0
    # Taken by another run, or changed by a forwarder since it was read.
    contended: int = 0
    # Retries that failed unexpectedly (logged with their stack; due again after the lease).
    errors: int = 0
    passes: int = 0

    def __add__(self, other: "RedriveReport") -> "RedriveReport":
        return RedriveReport(self.due + other.due, self.redriven + other.redriven, self.contended + other.contended,
                             self.errors + other.errors, self.passes + other.passes)


def redrive_message(due: DueDelivery) -> PubSubMessage:
    """The retry as the forwarder handles it: the event's bytes and attributes, for that
    forwarder and destination only."""
    assert due.stored is not None
    return PubSubMessage(due.stored.data, {
        **due.stored.attributes,
        REPLAY_FOR_ATTRIBUTE: due.forwarder,
        DESTINATION_ATTRIBUTE: due.destination_id,
        REDRIVE_ATTRIBUTE: str(due.round_attempts + 1),
    }, message_id=f"redrive:{due.entry_id}")


class Redriver:
    def __init__(self, log: DeliveryLog, forwarders: Mapping[str, Forwarder], *, batch_size: int,
                 lease_seconds: float, workers: ThreadPoolExecutor, leasing: ThreadPoolExecutor,
                 clock: Clock = utc_now, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic):
        self._log = log
        self._forwarders = forwarders
        self._batch_size = batch_size
        self._lease_seconds = lease_seconds
        self._workers = workers
        self._leasing = leasing
        self._clock = clock
        self._sleep = sleep
        self._monotonic = monotonic

    def run(self, run_seconds: float, poll_seconds: float) -> RedriveReport:
        """Passes until ``run_seconds`` are spent (at least one; a pass that found a full batch is
        followed at once by another, otherwise after ``poll_seconds``), then waits for the retries
        it started."""
        deadline = self._monotonic() + run_seconds
        report, started = RedriveReport(), []
        while True:
            found, futures = self._pass()
            report += found
            started += futures
            if self._monotonic() >= deadline:
                break
            if found.due < self._batch_size:
                self._sleep(min(poll_seconds, max(0.0, deadline - self._monotonic())))
                if self._monotonic() >= deadline:
                    break
        errors = sum(1 for future in started if not future.result())
        return report + RedriveReport(redriven=len(started) - errors, errors=errors)

    def _pass(self) -> tuple[RedriveReport, list[Future]]:
        due = self._log.due(self._clock(), self._batch_size)
        leased = [d for d, ok in zip(due, self._leasing.map(self._lease, due)) if ok]
        futures = [self._workers.submit(self._redrive, d) for d in leased]
        if due:
            logger.info("re-drive pass", extra={"due": len(due), "leased": len(leased)})
        return RedriveReport(due=len(due), contended=len(due) - len(leased), passes=1), futures

    def _lease(self, due: DueDelivery) -> bool:
        return self._log.lease_redrive(due, self._lease_seconds)

    def _redrive(self, due: DueDelivery) -> bool:
        """Make one retry; False when it failed unexpectedly (it is due again after the lease)."""
        forwarder = self._forwarders.get(due.forwarder)
        try:
            if forwarder is None:
                raise LookupError(f"no forwarder {due.forwarder!r}")
            forwarder.handle(redrive_message(due))
        except Exception:
            logger.error("re-drive failed", exc_info=True,
                         extra={"eventId": due.event_id, "destinationId": due.destination_id,
                                "forwarder": due.forwarder})
            return False
        return True
