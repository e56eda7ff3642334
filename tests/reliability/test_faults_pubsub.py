"""Pub/Sub frozen, then killed and started again, while clients post events to ingest.

Clients send again what ingest answers 424 (PUBSUB_UNAVAILABLE), as README's Ingest section
tells them to. Counted by eventId once the load stopped: every event ingest acknowledged (200)
is at each of its partner's destinations, once at MongoDB and Cloud Storage, byte for byte.
"""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from tests.reliability.fault_support import (
    DELIVERY_DEADLINE_SECONDS,
    FaultPartner,
    assert_acknowledged_events_delivered,
    child,
    frozen,
    ingest_load,
    kill,
    own_stack,
    restart_pubsub_emulator,
    wait_for_deliveries,
)
from tools.stack import LocalStack

pytestmark = pytest.mark.integration

FREEZE_SECONDS = 10.0
OUTAGE_SECONDS = 10.0
LOAD_BEFORE_SECONDS = 3.0
LOAD_AFTER_SECONDS = 5.0


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from own_stack(tmp_path_factory, "pubsub-faults")


def test_pubsub_frozen_during_an_ingest_load(fault_stack):
    partner = FaultPartner.register(fault_stack)
    events: dict[str, bytes] = {}
    with ingest_load(fault_stack, partner, events) as load:
        time.sleep(LOAD_BEFORE_SECONDS)
        with frozen(child(fault_stack, "pubsub-emulator")):
            time.sleep(FREEZE_SECONDS)  # the fault itself
        thawed_at = time.monotonic()
        time.sleep(LOAD_AFTER_SECONDS)

    assert load.answers()[424] > 0, "the freeze should have made ingest answer 424"
    assert_acknowledged_events_delivered(fault_stack, "Pub/Sub frozen", load, partner, events, thawed_at,
                                         seconds=FREEZE_SECONDS)


def test_pubsub_killed_and_started_again_during_an_ingest_load(fault_stack):
    partner = FaultPartner.register(fault_stack)
    events: dict[str, bytes] = {}
    with ingest_load(fault_stack, partner, events) as load:
        time.sleep(LOAD_BEFORE_SECONDS)
        # The emulator holds its messages in memory only: killed, it would lose those it had not
        # pushed yet, which Pub/Sub itself never does. So it is killed once everything it
        # confirmed is delivered; the load goes on against the dead emulator.
        load.pause()
        before = {sent.item for sent in load.acknowledged()}
        _, drained = wait_for_deliveries(partner, events, before, DELIVERY_DEADLINE_SECONDS)
        assert drained is not None, "events acknowledged before the kill should have been delivered"
        kill(child(fault_stack, "pubsub-emulator"))
        killed_at = time.monotonic()
        load.resume()
        time.sleep(OUTAGE_SECONDS)  # the fault itself
        # A new emulator starts empty: its topics and subscriptions are created again before any
        # request can publish (a message on a topic without its subscriptions yet would be dropped).
        load.pause()
        restart_pubsub_emulator(fault_stack)
        restarted_at = time.monotonic()
        load.resume()
        time.sleep(LOAD_AFTER_SECONDS)

    assert load.answers()[424] > 0, "the dead emulator should have made ingest answer 424"
    assert_acknowledged_events_delivered(fault_stack, "Pub/Sub killed and started again", load, partner, events,
                                         restarted_at, seconds_down=round(restarted_at - killed_at, 1))
