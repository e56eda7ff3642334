"""The re-driver's passes with the delivery log and the forwarders replaced by recorders; the real
path (Firestore query, preconditions, attempts) runs in tests/integration/test_forwarding_retries.py."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from shared.forwarding.delivery_log import RETRYING, DueDelivery, StoredEvent
from shared.forwarding.redrive import Redriver, redrive_message


def due(n: int, forwarder: str = "forward_webhook") -> DueDelivery:
    return DueDelivery(f"e{n}:hook", f"e{n}", "hook", forwarder, RETRYING, 2,
                       StoredEvent(b'{"eventId": "e%d"}' % n, {"eventId": f"e{n}", "flowId": "f"}), update_time=None)


class FakeLog:
    def __init__(self, pending: list[DueDelivery], contended: set[str] = frozenset()):
        self.pending = list(pending)
        self.contended = set(contended)

    def due(self, now, limit):
        found, self.pending = self.pending[:limit], self.pending[limit:]
        return found

    def lease_redrive(self, delivery, lease_seconds):
        return delivery.entry_id not in self.contended


class RecordingForwarder:
    def __init__(self, failing: set[str] = frozenset()):
        self.failing = set(failing)
        self.handled = []

    def handle(self, message):
        self.handled.append(message)
        if message.attributes["eventId"] in self.failing:
            raise RuntimeError("Firestore unavailable")


def redriver(log, forwarders, batch_size=10, clock_steps=None):
    ticks = iter(clock_steps or [0.0] * 100)
    return Redriver(log, forwarders, batch_size=batch_size, lease_seconds=60, workers=ThreadPoolExecutor(2),
                    leasing=ThreadPoolExecutor(2), sleep=lambda _s: None, monotonic=lambda: next(ticks))


def test_a_retry_is_for_its_forwarder_and_destination_only():
    message = redrive_message(due(1))
    assert message.data == b'{"eventId": "e1"}'
    assert message.attributes == {"eventId": "e1", "flowId": "f", "replayFor": "forward_webhook",
                                  "destinationId": "hook", "redrive": "3"}


def test_a_pass_makes_the_retries_it_leased_and_counts_the_rest():
    webhook = RecordingForwarder(failing={"e3"})
    log = FakeLog([due(1), due(2), due(3), due(4, forwarder="forward_unknown")], contended={"e2:hook"})
    report = redriver(log, {"forward_webhook": webhook}).run(0, 1)
    assert sorted(m.attributes["eventId"] for m in webhook.handled) == ["e1", "e3"]
    assert (report.due, report.redriven, report.contended, report.errors) == (4, 1, 1, 2)


def test_a_run_keeps_passing_while_full_batches_come_then_stops_at_its_deadline():
    webhook = RecordingForwarder()
    # deadline at 10; passes at 0, 1, 2 (full, full, partial), then the clock passes the deadline
    report = redriver(FakeLog([due(n) for n in range(5)]), {"forward_webhook": webhook}, batch_size=2,
                      clock_steps=[0, 1, 2, 3, 11, 11]).run(10, 5)
    assert report.passes == 3 and report.redriven == 5 and len(webhook.handled) == 5
