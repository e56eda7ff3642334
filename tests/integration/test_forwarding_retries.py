"""The retry policy is the platform's own: every event gets it whatever its eventDate; Pub/Sub's
own last push is recorded; a delivery whose attempt never reported is re-driven; values a
destination cannot hold are held at once; a failing partner does not hold up the others."""

from __future__ import annotations

import base64
import os
import uuid
from datetime import datetime, timezone

import pytest
import requests
from bson.decimal128 import Decimal128

from shared.events.message import encode_event, event_message
from shared.forwarding.delivery_log import Delivery, StoredEvent
from shared.forwarding.message import content_hash
from tests.conftest import poll
from tests.integration.forwarding_support import (  # noqa: F401 - clients and partner are fixtures
    admin_cli,
    clients,
    dead_letters,
    entry,
    ingest,
    partner,
    register,
    wait_dead_letters,
    wait_delivered,
    wait_status,
)

pytestmark = pytest.mark.integration
PUBSUB_MAX_DELIVERY_ATTEMPTS = 5  # push_defaults.max_delivery_attempts in topology.yaml


def test_an_event_dated_long_ago_gets_the_normal_retries(stack, clients, partner):
    partner.fail_next(1)
    event = partner.event(eventDate="2022-08-29T19:13:13.783Z")  # a backfill, as the spec's examples
    ingest(stack, event)
    logged = wait_delivered(clients, event["eventId"], "demo-webhook")
    assert logged["attempts"] == 2
    assert [d["answeredStatus"] for d in partner.deliveries(event["eventId"])] == [503, 200]
    assert dead_letters(partner.whitelabel) == []


def push(stack: dict, function: str, event: dict, delivery_attempt: int | None) -> requests.Response:
    """A push request exactly as Pub/Sub sends it to the function, deliveryAttempt included (the
    emulator leaves it out: production sends it on subscriptions with a dead-letter policy)."""
    message = event_message(event, str(uuid.uuid4()))
    body = {"message": {"data": base64.b64encode(message.data).decode(), "attributes": dict(message.attributes),
                        "messageId": str(uuid.uuid4().int)[:16],
                        "publishTime": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")},
            "subscription": f"projects/{stack['project_id']}/subscriptions/{function}"}
    if delivery_attempt is not None:
        body["deliveryAttempt"] = delivery_attempt
    return requests.post(stack["functions"][function] + "/", json=body, timeout=60)


def test_pubsubs_last_push_of_an_event_it_retries_itself_is_held_with_the_reason(stack, clients):
    partner = register(stack, kinds=("webhook",))
    partner.fail_next(1000)
    event = partner.event()
    # Incompressible and over 900 KiB: too large to keep for the re-driver, so Pub/Sub retries it.
    event["data"]["attachment"] = base64.b64encode(os.urandom(1100 * 1024)).decode()
    assert StoredEvent(encode_event(event), {}).fields is None

    answer = push(stack, "forward_webhook", event, delivery_attempt=1)
    assert answer.status_code == 503  # not acknowledged: Pub/Sub delivers it again
    assert entry(clients, event["eventId"], "demo-webhook")["status"] == "failed"

    answer = push(stack, "forward_webhook", event, delivery_attempt=PUBSUB_MAX_DELIVERY_ATTEMPTS)
    assert answer.status_code == 200  # held by the forwarder, not left to Pub/Sub's dead-lettering
    logged = entry(clients, event["eventId"], "demo-webhook")
    assert logged["status"] == "dead_lettered" and logged["reason"] == "max_attempts"
    assert f"{PUBSUB_MAX_DELIVERY_ATTEMPTS} Pub/Sub deliveries failed" in logged["detail"]
    [letter] = wait_dead_letters(partner.whitelabel, 1)
    assert (letter.reason, letter.target) == ("max_attempts", "demo-webhook")
    assert letter.message.data == encode_event(event)


def test_a_delivery_whose_attempt_never_reported_is_re_driven(stack, clients, partner):
    """An instance that died mid-attempt leaves its entry "delivering"; once its lease is over the
    re-driver sends it again, whatever Pub/Sub does with the original message."""
    event = partner.event()
    message = event_message(event, str(uuid.uuid4()))
    delivery = Delivery(event["eventId"], "demo-webhook", partner.whitelabel, "webhook", "forward_webhook",
                        content_hash(event))
    assert clients["log"].claim(delivery, StoredEvent(message.data, message.attributes), lease_seconds=-1)

    logged = wait_delivered(clients, event["eventId"], "demo-webhook")
    assert logged["attempts"] == 1 and "event" not in logged and "nextAttemptAt" not in logged
    [received] = partner.deliveries(event["eventId"])
    assert received["body"].encode("utf-8") == message.data and received["signatureValid"]


def test_integers_beyond_int64_are_stored_exactly_and_an_own_id_is_kept(stack, clients, partner):
    event = partner.event(_id="legacy-7")
    event["data"]["counters"] = {"views": 2 ** 64 + 1, "small": 42}
    body = ingest(stack, event)
    wait_delivered(clients, event["eventId"], "demo-mongodb")
    document = clients["mongo"].find_one({"_id": event["eventId"]})
    assert document["data"]["counters"] == {"views": Decimal128(str(2 ** 64 + 1)), "small": 42}
    assert document["eventOwnId"] == "legacy-7"
    # The other destinations get the event's own bytes, _id included.
    assert wait_delivered(clients, event["eventId"], "demo-webhook")
    assert partner.deliveries(event["eventId"])[0]["body"].encode("utf-8") == body


def test_a_value_mongodb_cannot_hold_is_held_at_once(stack, clients, partner):
    event = partner.event()
    event["data"]["huge"] = 10 ** 40 + 1  # 41 digits: more than Decimal128 holds exactly
    ingest(stack, event)
    logged = wait_status(clients, f"{event['eventId']}:demo-mongodb", "dead_lettered")
    assert logged["reason"] == "undeliverable_value" and logged["attempts"] == 1
    assert "data.huge: an integer of 41 digits" in logged["detail"]
    [letter] = wait_dead_letters(partner.whitelabel, 1, function="forward_mongodb")
    assert (letter.reason, letter.target) == ("undeliverable_value", "demo-mongodb")
    # JSON holds it: the webhook and Cloud Storage deliver it.
    wait_delivered(clients, event["eventId"], "demo-webhook")
    wait_delivered(clients, event["eventId"], "demo-gcs")


def test_a_failing_partner_does_not_hold_up_another_and_nothing_is_left_unaccounted(stack, clients, capsys,
                                                                                  local_stack):
    failing = register(stack, kinds=("webhook",))
    healthy = register(stack, kinds=("webhook",))
    failing.fail_next(1000, status=500, delay=6)  # answers 500 after the forwarder's 5 s timeout
    failing_events = [failing.event() for _ in range(12)]
    for event in failing_events:
        ingest(stack, event)
    poll(lambda: len(failing.deliveries()) >= 3, what="the failing partner's first attempts to hang")

    healthy_events = [healthy.event() for _ in range(5)]
    for event in healthy_events:
        ingest(stack, event)
        wait_delivered(clients, event["eventId"], "demo-webhook")
    # Every healthy event was delivered while the other partner was still failing.
    assert {d["answeredStatus"] for d in failing.deliveries()} == {500}

    failing.fail_next(0)
    ids = [e["eventId"] for e in failing_events]

    def settled() -> bool:
        statuses = [(entry(clients, i, "demo-webhook") or {}).get("status") for i in ids]
        return all(s in ("delivered", "dead_lettered") for s in statuses)

    poll(settled, timeout=60, interval=0.5, what="every event of the failing partner delivered or held")
    held = {letter.attributes["eventId"] for letter in dead_letters(failing.whitelabel)}
    delivered = {i for i in ids if entry(clients, i, "demo-webhook")["status"] == "delivered"}
    assert held | delivered == set(ids) and not held & delivered
    # What ran out of attempts during the outage is replayable and then delivered.
    assert admin_cli_replay(local_stack, capsys, failing.whitelabel) == len(held)
    for event_id in ids:
        wait_delivered(clients, event_id, "demo-webhook")


def admin_cli_replay(local_stack, capsys, whitelabel: str) -> int:
    code, out = admin_cli(local_stack, capsys, "deadletters", "replay", "--partner", whitelabel)
    assert code == 0
    return int(out.rsplit("replayed ", 1)[1].split(" ", 1)[0])


def test_the_re_driver_answers_its_route_only(stack):
    url = stack["functions"]["forward_redrive"]
    answer = requests.post(url + "/v1/redrive", timeout=60)
    assert answer.status_code == 200
    assert set(answer.json()) == {"due", "redriven", "contended", "errors", "passes"}
    answer = requests.get(url + "/v1/redrive", timeout=10)
    assert answer.status_code == 405 and answer.headers["Allow"] == "POST" and answer.json() == {"error": "use POST"}
    assert requests.post(url + "/v1/other", timeout=10).status_code == 404
