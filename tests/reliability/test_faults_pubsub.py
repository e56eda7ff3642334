"""Pub/Sub frozen, then killed and started again, while clients post events to ingest.

Clients send again what ingest answers 424 (PUBSUB_UNAVAILABLE), as README's Ingest section
tells them to. Counted by eventId once the load stopped: every event ingest acknowledged (200)
is at each of its partner's destinations, once at MongoDB and Cloud Storage, byte for byte.
"""

from __future__ import annotations

import time

import pytest

from tests.reliability.fault_support import (
    DELIVERY_DEADLINE_SECONDS,
    IngestRun,
    assert_acknowledged_events_delivered,
    child,
    frozen_for,
    ingest_under,
    kill,
    own_stack,
    restart_pubsub_emulator,
    wait_for_deliveries,
)

pytestmark = pytest.mark.integration

FREEZE_SECONDS = 10.0
OUTAGE_SECONDS = 10.0

fault_stack = own_stack("pubsub-faults")


def test_pubsub_frozen_during_an_ingest_load(fault_stack):
    run = ingest_under(fault_stack, lambda _: frozen_for(FREEZE_SECONDS, child(fault_stack, "pubsub-emulator")))
    assert run.load.answers()[424] > 0, "the freeze should have made ingest answer 424"
    assert_acknowledged_events_delivered(fault_stack, "Pub/Sub frozen", run, seconds=FREEZE_SECONDS)


def test_pubsub_killed_and_started_again_during_an_ingest_load(fault_stack):
    down: dict[str, float] = {}

    def outage(run: IngestRun) -> None:
        # The emulator holds its messages in memory only: killed, it would lose those it had not
        # pushed yet, which Pub/Sub itself never does. So it is killed once everything it
        # confirmed is delivered; the load goes on against the dead emulator.
        run.load.pause()
        before = {sent.item for sent in run.load.acknowledged()}
        _, drained = wait_for_deliveries(run.partner, run.events, before, DELIVERY_DEADLINE_SECONDS)
        assert drained is not None, "events acknowledged before the kill should have been delivered"
        kill(child(fault_stack, "pubsub-emulator"))
        killed_at = time.monotonic()
        run.load.resume()
        time.sleep(OUTAGE_SECONDS)  # the fault itself
        # A new emulator starts empty: its topics and subscriptions are created again before any
        # request can publish (a message on a topic without its subscriptions yet would be dropped).
        run.load.pause()
        restart_pubsub_emulator(fault_stack)
        down["seconds"] = round(time.monotonic() - killed_at, 1)
        run.load.resume()

    run = ingest_under(fault_stack, outage)
    assert run.load.answers()[424] > 0, "the dead emulator should have made ingest answer 424"
    assert_acknowledged_events_delivered(fault_stack, "Pub/Sub killed and started again", run,
                                         seconds_down=down["seconds"])
