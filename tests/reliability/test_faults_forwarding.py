"""Faults at the partners' side of forwarding, while clients post events to ingest: the partner's
webhook failing for a while, MongoDB and Cloud Storage frozen, forwarders killed mid-delivery.

The stack is this module's own, with production's push retry policy (topology.yaml: backoff
from 10 s, 5 delivery attempts). Counted by eventId once the load stopped: every event ingest
acknowledged is at each destination, once at MongoDB and Cloud Storage, byte for byte; the
webhook may receive an event more than once, always with the same webhook-id (its receiver
deduplicates by it).
"""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from tests.reliability.fault_support import (
    FaultPartner,
    assert_acknowledged_events_delivered,
    child,
    frozen,
    ingest_load,
    kill,
    own_stack,
    restart_lines,
)
from tools.stack import LocalStack

pytestmark = pytest.mark.integration

WEBHOOK_FAILING_SECONDS = 15.0
FREEZE_SECONDS = 15.0
LOAD_BEFORE_SECONDS = 3.0
LOAD_AFTER_SECONDS = 5.0


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    yield from own_stack(tmp_path_factory, "forwarding-faults")


def test_the_partner_webhook_failing_for_a_while_then_recovering(fault_stack):
    partner = FaultPartner.register(fault_stack)
    events: dict[str, bytes] = {}
    with ingest_load(fault_stack, partner, events) as load:
        time.sleep(LOAD_BEFORE_SECONDS)
        partner.fail_webhook(1_000_000, status=503)
        time.sleep(WEBHOOK_FAILING_SECONDS)  # the fault itself
        partner.fail_webhook(0)
        recovered_at = time.monotonic()
        time.sleep(LOAD_AFTER_SECONDS)
    assert_acknowledged_events_delivered(fault_stack, "partner webhook failing", load, partner, events, recovered_at,
                                         seconds=WEBHOOK_FAILING_SECONDS)


def test_mongodb_and_cloud_storage_frozen(fault_stack):
    partner = FaultPartner.register(fault_stack)
    events: dict[str, bytes] = {}
    with ingest_load(fault_stack, partner, events) as load:
        time.sleep(LOAD_BEFORE_SECONDS)
        with frozen(child(fault_stack, "secantusdb"), child(fault_stack, "fake-gcs-server")):
            time.sleep(FREEZE_SECONDS)  # the fault itself
        thawed_at = time.monotonic()
        time.sleep(LOAD_AFTER_SECONDS)
    assert_acknowledged_events_delivered(fault_stack, "MongoDB and Cloud Storage frozen", load, partner, events,
                                         thawed_at, seconds=FREEZE_SECONDS)


def test_forwarders_killed_mid_delivery(fault_stack):
    """The webhook's receiver and MongoDB hang while events arrive, so deliveries are in flight
    when forward_webhook and forward_mongodb are killed; the supervisor starts them again. A
    delivery that reached the partner before the kill is sent again (its result was never
    recorded): the webhook gets a second copy with the same webhook-id, MongoDB a duplicate key
    (already delivered)."""
    partner = FaultPartner.register(fault_stack)
    events: dict[str, bytes] = {}
    victims = [child(fault_stack, "function-forward_webhook"), child(fault_stack, "function-forward_mongodb")]
    deaths_before = {victim.name: len(restart_lines(fault_stack, victim.name)) for victim in victims}
    with ingest_load(fault_stack, partner, events) as load:
        time.sleep(LOAD_BEFORE_SECONDS)
        with frozen(child(fault_stack, "webhook-sink"), child(fault_stack, "secantusdb")):
            time.sleep(2.0)  # deliveries pile up, in flight
            killed = {victim.name: kill(victim) for victim in victims}
        thawed_at = time.monotonic()
        time.sleep(LOAD_AFTER_SECONDS)

    for victim in victims:
        [death] = restart_lines(fault_stack, victim.name)[deaths_before[victim.name]:]
        assert (death["severity"], death["signal"], death["pid"]) == ("WARNING", "SIGKILL", killed[victim.name])
        assert victim.process.pid != killed[victim.name] and victim.process.poll() is None
    assert_acknowledged_events_delivered(fault_stack, "forwarders killed mid-delivery", load, partner, events,
                                         thawed_at)
