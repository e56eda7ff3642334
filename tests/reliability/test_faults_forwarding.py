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

import pytest

from tests.reliability.fault_support import (
    IngestRun,
    assert_acknowledged_events_delivered,
    child,
    frozen,
    frozen_for,
    ingest_under,
    kill,
    own_stack,
    restart_lines,
)

pytestmark = pytest.mark.integration

WEBHOOK_FAILING_SECONDS = 15.0
FREEZE_SECONDS = 15.0

fault_stack = own_stack("forwarding-faults")


def test_the_partner_webhook_failing_for_a_while_then_recovering(fault_stack):
    def failing_webhook(run: IngestRun) -> None:
        run.partner.fail_webhook(1_000_000, status=503)
        time.sleep(WEBHOOK_FAILING_SECONDS)  # the fault itself
        run.partner.fail_webhook(0)

    run = ingest_under(fault_stack, failing_webhook)
    assert_acknowledged_events_delivered(fault_stack, "partner webhook failing", run,
                                         seconds=WEBHOOK_FAILING_SECONDS)


def test_mongodb_and_cloud_storage_frozen(fault_stack):
    servers = child(fault_stack, "secantusdb"), child(fault_stack, "fake-gcs-server")
    run = ingest_under(fault_stack, lambda _: frozen_for(FREEZE_SECONDS, *servers))
    assert_acknowledged_events_delivered(fault_stack, "MongoDB and Cloud Storage frozen", run,
                                         seconds=FREEZE_SECONDS)


def test_forwarders_killed_mid_delivery(fault_stack):
    """The webhook's receiver and MongoDB hang while events arrive, so deliveries are in flight
    when forward_webhook and forward_mongodb are killed; the supervisor starts them again. A
    delivery that reached the partner before the kill is sent again (its result was never
    recorded): the webhook gets a second copy with the same webhook-id, MongoDB a duplicate key
    (already delivered)."""
    victims = [child(fault_stack, "function-forward_webhook"), child(fault_stack, "function-forward_mongodb")]
    deaths_before = {victim.name: len(restart_lines(fault_stack, victim.name)) for victim in victims}
    killed: dict[str, int] = {}

    def kill_mid_delivery(_: IngestRun) -> None:
        with frozen(child(fault_stack, "webhook-sink"), child(fault_stack, "secantusdb")):
            time.sleep(2.0)  # deliveries pile up, in flight
            killed.update({victim.name: kill(victim) for victim in victims})

    run = ingest_under(fault_stack, kill_mid_delivery)
    for victim in victims:
        [death] = restart_lines(fault_stack, victim.name)[deaths_before[victim.name]:]
        assert (death["severity"], death["signal"], death["pid"]) == ("WARNING", "SIGKILL", killed[victim.name])
        assert victim.process.pid != killed[victim.name] and victim.process.poll() is None
    assert_acknowledged_events_delivered(fault_stack, "forwarders killed mid-delivery", run)
