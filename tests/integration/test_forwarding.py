"""Forwarding end to end through Pub/Sub push: ingest -> topic "events" -> the three forwarders ->
the webhook sink, SecantusDB and fake-gcs-server; retries through the re-driver, dead letters and
replay, duplicates, signatures, secrets. Each test registers its own partner (a fresh whitelabel)
so tests never share state. Holds are in test_forwarding_holds.py, retry policy, values and
isolation in test_forwarding_retries.py."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from google.cloud import pubsub_v1
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from shared.events.message import encode_event
from shared.forwarding.partners import COLLECTION as PARTNERS
from tests.conftest import poll
from tests.integration.forwarding_support import (  # noqa: F401 - clients and partner are fixtures
    DESTINATIONS,
    MAX_ATTEMPTS,
    admin_cli,
    clients,
    entry,
    ingest,
    log_records,
    partner,
    register,
    stored_object,
    wait_delivered,
)
from tools.forwarding_local import DEMO_PREFIX, MONGODB_URI_ENV, WEBHOOK_SECRET_ENV

pytestmark = pytest.mark.integration


# ---------------------------------------------------------------------------------------------

def test_each_destination_receives_the_event_byte_identical(stack, clients, partner):
    event = partner.event()
    body = ingest(stack, event)

    for destination in DESTINATIONS:
        logged = wait_delivered(clients, event["eventId"], destination)
        assert logged["attempts"] == 1 and logged["partner"] == partner.whitelabel
        assert logged["expireAt"] > datetime.now(timezone.utc) + timedelta(days=29)

    [received] = partner.deliveries(event["eventId"])
    assert received["body"].encode("utf-8") == body
    assert received["headers"]["content-type"] == "application/json"
    assert received["headers"]["webhook-id"] == event["eventId"]
    assert received["signatureValid"] is True

    document = clients["mongo"].find_one({"_id": event["eventId"]})
    assert document == {"_id": event["eventId"], **event}

    blob = stored_object(clients, body)
    assert blob.name == (f"{DEMO_PREFIX}/user.interaction/{event['eventDate'][:4]}/{event['eventDate'][5:7]}/"
                         f"{event['eventDate'][8:10]}/{event['eventId']}.json")
    assert blob.download_as_bytes() == body
    blob.reload()
    assert blob.content_type == "application/json"


def test_signature_verified_by_an_independent_verifier_and_flow_id_forwarded(stack, clients, partner):
    event = partner.event()
    flow_id = str(uuid.uuid4())
    body = ingest(stack, event, flow_id=flow_id)
    wait_delivered(clients, event["eventId"], "demo-webhook")
    [received] = partner.deliveries(event["eventId"])
    headers = received["headers"]
    assert headers["x-flow-id"] == flow_id

    verifier = Webhook(os.environ[WEBHOOK_SECRET_ENV])
    assert verifier.verify(received["body"].encode("utf-8"), headers, json_parse=False) is None
    tampered = body.replace(b'"mediaEnd":60', b'"mediaEnd":61')
    assert tampered != body
    with pytest.raises(WebhookVerificationError):
        verifier.verify(tampered, headers, json_parse=False)


def test_partner_fails_twice_then_succeeds_and_gets_the_event_once_in_effect(stack, clients, partner):
    partner.fail_next(2)
    event = partner.event()
    ingest(stack, event)

    logged = wait_delivered(clients, event["eventId"], "demo-webhook")
    assert logged["attempts"] == 3 and logged["lastHttpStatus"] == 200
    received = partner.deliveries(event["eventId"])
    assert [r["answeredStatus"] for r in received] == [503, 503, 200]
    assert {r["webhookId"] for r in received} == {event["eventId"]}
    accepted = {r["webhookId"] for r in received if r["answeredStatus"] == 200}
    assert accepted == {event["eventId"]}
    # The other kinds were delivered once, on the first attempt: a webhook failure is not theirs.
    assert entry(clients, event["eventId"], "demo-mongodb")["attempts"] == 1
    assert entry(clients, event["eventId"], "demo-gcs")["attempts"] == 1
    assert clients["mongo"].count_documents({"_id": event["eventId"]}) == 1


def test_same_message_delivered_twice_is_delivered_once_in_effect(stack, clients, partner):
    event = partner.event()
    body = encode_event(event)
    publisher = pubsub_v1.PublisherClient()
    attributes = {"eventId": event["eventId"], "eventType": event["eventType"], "whitelabel": partner.whitelabel,
                  "flowId": str(uuid.uuid4())}
    publisher.publish(stack["topics"]["events"], body, **attributes).result(timeout=10)
    for destination in DESTINATIONS:
        wait_delivered(clients, event["eventId"], destination)
    first_generation = clients["bucket"].get_blob(stored_object(clients, body).name).generation

    publisher.publish(stack["topics"]["events"], body, **attributes).result(timeout=10)
    poll(lambda: skipped(stack, event["eventId"]) == set(DESTINATIONS),
         what="the second message to be skipped by the three forwarders")

    received = partner.deliveries(event["eventId"])
    assert len(received) == 1 and received[0]["webhookId"] == event["eventId"]
    assert clients["mongo"].count_documents({"_id": event["eventId"]}) == 1
    blobs = list(clients["bucket"].list_blobs(prefix=stored_object(clients, body).name))
    assert len(blobs) == 1 and blobs[0].generation == first_generation
    for destination in DESTINATIONS:
        assert entry(clients, event["eventId"], destination)["attempts"] == 1


def test_the_same_event_arriving_twice_at_once_is_one_document_one_object_one_webhook_id(stack, clients, partner):
    event = partner.event()
    body = encode_event(event)
    publisher = pubsub_v1.PublisherClient()
    futures = [publisher.publish(stack["topics"]["events"], body, eventId=event["eventId"],
                                 whitelabel=partner.whitelabel) for _ in range(2)]
    for future in futures:
        future.result(timeout=10)
    for destination in DESTINATIONS:
        wait_delivered(clients, event["eventId"], destination)
    poll(lambda: len(partner.deliveries(event["eventId"])) + ("demo-webhook" in skipped(stack, event["eventId"])) == 2,
         what="both messages handled by forward_webhook (delivered or skipped)")

    # Handled side by side, both copies may pass the log check: the receiver deduplicating by
    # webhook-id still sees one event; MongoDB and Cloud Storage hold exactly one copy.
    assert {r["webhookId"] for r in partner.deliveries(event["eventId"])} == {event["eventId"]}
    assert clients["mongo"].count_documents({"_id": event["eventId"]}) == 1
    assert len(list(clients["bucket"].list_blobs(prefix=stored_object(clients, body).name))) == 1


def skipped(stack: dict[str, Any], event_id: str) -> set[str]:
    """Destinations whose forwarder skipped this event as a duplicate (already delivered, or
    being delivered by another invocation)."""
    return {r["destinationId"] for message in ("already delivered; skipped",
                                               "being delivered by another invocation; skipped")
            for r in log_records(stack, message, event_id)}


def test_a_second_webhook_gets_no_duplicate_when_only_the_first_failed(stack, clients):
    whitelabel_paths = {"hook-a": f"/hooks/{uuid.uuid4().hex}", "hook-b": f"/hooks/{uuid.uuid4().hex}"}
    partner = register(stack, whitelabel_paths)
    partner.fail_next(1, path=whitelabel_paths["hook-a"])
    event = partner.event()
    ingest(stack, event)

    assert wait_delivered(clients, event["eventId"], "hook-a")["attempts"] == 2
    assert entry(clients, event["eventId"], "hook-b")["attempts"] == 1
    assert len(partner.deliveries(event["eventId"], whitelabel_paths["hook-a"])) == 2
    assert len(partner.deliveries(event["eventId"], whitelabel_paths["hook-b"])) == 1


def test_dead_letter_after_the_maximum_attempts_then_replay_delivers_it(stack, local_stack, clients, partner,
                                                                      capsys):
    partner.fail_next(1000)  # an outage
    event = partner.event()
    ingest(stack, event)
    wait_delivered(clients, event["eventId"], "demo-mongodb")

    def listed() -> str:
        code, out = admin_cli(local_stack, capsys, "deadletters", "list", "--function", "forward_webhook",
                              "--partner", partner.whitelabel)
        return code == 0 and event["eventId"] in out and out

    out = poll(listed, timeout=60, interval=1.0, what="the event in forward_webhook's dead letters")
    assert "demo-webhook" in out and f"max_attempts: {MAX_ATTEMPTS} attempts failed" in out
    logged = entry(clients, event["eventId"], "demo-webhook")
    assert logged["status"] == "dead_lettered" and logged["reason"] == "max_attempts"
    assert logged["attempts"] == MAX_ATTEMPTS and "event" not in logged and "nextAttemptAt" not in logged
    # Attempts made while the destination's circuit was open never reached the partner.
    reached = partner.deliveries(event["eventId"])
    assert 1 <= len(reached) <= MAX_ATTEMPTS and {r["answeredStatus"] for r in reached} == {503}

    partner.fail_next(0)  # the partner is back
    code, out = admin_cli(local_stack, capsys, "deadletters", "replay", "--partner", partner.whitelabel)
    assert code == 0
    assert f"[1] forward_webhook: replayed event {event['eventId']} to demo-webhook" in out
    assert "replayed 1 dead letter(s)" in out

    logged = wait_delivered(clients, event["eventId"], "demo-webhook")
    assert logged["attempts"] == MAX_ATTEMPTS + 1 and logged["roundAttempts"] == 1
    assert [r["answeredStatus"] for r in partner.deliveries(event["eventId"])] == [503] * len(reached) + [200]
    # The replay was for the webhook forwarder only: MongoDB and Cloud Storage saw it once.
    assert entry(clients, event["eventId"], "demo-mongodb")["attempts"] == 1
    assert entry(clients, event["eventId"], "demo-gcs")["attempts"] == 1
    code, out = admin_cli(local_stack, capsys, "deadletters", "list", "--function", "forward_webhook",
                          "--partner", partner.whitelabel)
    assert event["eventId"] not in out and "0 dead letter(s)" in out


def test_secrets_never_appear_in_logs_or_stored_config(stack, clients, partner, local_stack, capsys):
    partner.fail_next(1)
    event = partner.event()
    ingest(stack, event)
    wait_delivered(clients, event["eventId"], "demo-webhook")
    wait_delivered(clients, event["eventId"], "demo-mongodb")

    signing_secret = os.environ[WEBHOOK_SECRET_ENV]
    connection_string = os.environ[MONGODB_URI_ENV]
    key_material = signing_secret.removeprefix("whsec_")
    stored = str(clients["db"].collection(PARTNERS).document(partner.whitelabel).get().to_dict())
    assert f"env:{WEBHOOK_SECRET_ENV}" in stored and f"env:{MONGODB_URI_ENV}" in stored
    code, shown = admin_cli(local_stack, capsys, "partners", "show", partner.whitelabel)
    assert code == 0
    forwarder_logs = "".join(Path(stack["logs"], f"function-{name}.log").read_text()
                             for name in ("forward_webhook", "forward_mongodb", "forward_gcs", "forward_redrive"))
    assert log_records(stack, "delivery failed; retry scheduled", event["eventId"])
    all_logs = "".join(path.read_text(errors="replace") for path in Path(stack["logs"]).glob("*.log"))
    for text in (stored, shown, forwarder_logs, all_logs):
        assert signing_secret not in text and key_material not in text
    for text in (stored, shown, forwarder_logs):
        assert connection_string not in text
