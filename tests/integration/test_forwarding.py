"""Forwarding end to end through Pub/Sub push: ingest -> topic "events" -> the three forwarders ->
the webhook sink, SecantusDB and fake-gcs-server; retries, dead letters and replay, signatures,
secrets. Each test registers its own partner (a fresh whitelabel) so tests never share state."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud import firestore, pubsub_v1, storage
from pymongo import MongoClient
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from shared.events.message import encode_event
from shared.forwarding.delivery_log import DeliveryLog
from shared.forwarding.destinations.gcs import object_name
from shared.forwarding.message import ForwardedEvent, PubSubMessage
from shared.forwarding.partners import COLLECTION as PARTNERS
from tests.conftest import fresh_event, poll
from tools import admin
from tools.forwarding_local import (
    DEMO_COLLECTION,
    DEMO_PREFIX,
    MONGODB_URI_ENV,
    WEBHOOK_SECRET_ENV,
    apply_local_partner,
    create_bucket,
    local_partner,
)

pytestmark = pytest.mark.integration

TEST_BUCKET = "fpass-test-events"
TEST_DATABASE = "fpass_test"
MAX_ATTEMPTS = 5  # push_defaults.max_delivery_attempts in topology.yaml
DESTINATIONS = ("demo-webhook", "demo-mongodb", "demo-gcs")


@dataclass
class PartnerUnderTest:
    whitelabel: str
    sink: str
    hooks: dict[str, str]  # destination id -> sink path

    @property
    def hook_path(self) -> str:
        return next(iter(self.hooks.values()))

    def event(self, **changes: Any) -> dict[str, Any]:
        event = fresh_event("view")
        event["eventDate"] = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        event["data"]["whitelabel"] = event["data"]["ownerWhitelabel"] = self.whitelabel
        event["ownerData"] = {"tags": ["Nível ABC", "GrupoXPTO"]}  # non-ASCII must survive byte for byte
        event.update(changes)
        return event

    def fail_next(self, times: int, path: str | None = None, status: int = 503) -> None:
        answer = requests.post(f"{self.sink}/control/fail",
                               params={"path": path or self.hook_path, "times": times, "status": status}, timeout=5)
        answer.raise_for_status()

    def deliveries(self, event_id: str, path: str | None = None) -> list[dict]:
        answer = requests.get(f"{self.sink}/deliveries", params={"path": path or self.hook_path,
                                                                 "webhookId": event_id}, timeout=5)
        return answer.json()["deliveries"]


@pytest.fixture(scope="module")
def clients(stack: dict[str, Any]) -> dict[str, Any]:
    create_bucket(stack["project_id"], TEST_BUCKET)
    db = firestore.Client(project=stack["project_id"])
    return {
        "db": db,
        "log": DeliveryLog(db, keep_days=30),
        "mongo": MongoClient(stack["emulators"]["mongodb"])[TEST_DATABASE][DEMO_COLLECTION],
        "bucket": storage.Client(project=stack["project_id"]).bucket(TEST_BUCKET),
    }


def register(stack: dict[str, Any], hooks: dict[str, str] | None = None) -> PartnerUnderTest:
    whitelabel = f"test-{uuid.uuid4().hex[:12]}"
    hooks = hooks or {"demo-webhook": f"/hooks/{whitelabel}"}
    apply_local_partner(local_partner(whitelabel, stack["webhook_sink"], bucket=TEST_BUCKET, database=TEST_DATABASE,
                                      webhooks=hooks))
    return PartnerUnderTest(whitelabel, stack["webhook_sink"], hooks)


@pytest.fixture
def partner(stack: dict[str, Any], clients) -> PartnerUnderTest:
    return register(stack)


def ingest(stack: dict[str, Any], event: dict[str, Any], flow_id: str | None = None) -> bytes:
    """Post the event as compact JSON (a protocol envelope when a flowId is given); returns the
    bytes published, which every destination must receive unchanged."""
    body = encode_event(event)
    if flow_id:
        request = {"name": event["eventType"], "version": 1, "flowId": flow_id, "payload": event}
        answer = requests.post(stack["functions"]["ingest"] + "/v1/events", json=request, timeout=10,
                               headers={"Authorization": f"Bearer {stack['dev_api_key']}"})
    else:
        answer = requests.post(stack["functions"]["ingest"] + "/v1/events", data=body, timeout=10,
                               headers={"Authorization": f"Bearer {stack['dev_api_key']}",
                                        "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    return body


def entry(clients, event_id: str, destination_id: str) -> dict | None:
    return clients["log"].get(event_id, destination_id)


def wait_delivered(clients, event_id: str, destination_id: str, timeout: float = 30.0) -> dict:
    return poll(lambda: (e := entry(clients, event_id, destination_id)) and e["status"] == "delivered" and e,
                timeout=timeout, what=f"{event_id}:{destination_id} delivered")


def stored_object(clients, body: bytes):
    return clients["bucket"].blob(object_name(DEMO_PREFIX, ForwardedEvent.from_message(PubSubMessage(body))))


def admin_cli(local_stack, capsys, *argv: str) -> tuple[int, str]:
    code = admin.main(["--local", "--stack-file", str(local_stack.state_dir / "stack.json"), *argv])
    return code, capsys.readouterr().out


def function_logs(stack: dict[str, Any]) -> str:
    return "".join(path.read_text(errors="replace") for path in Path(stack["logs"]).glob("*.log"))


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
    """Destinations whose forwarder logged "already delivered; skipped" for this event."""
    found = set()
    for line in function_logs(stack).splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("message") == "already delivered; skipped" and record.get("eventId") == event_id:
            found.add(record["destinationId"])
    return found


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
    partner.fail_next(MAX_ATTEMPTS)
    event = partner.event()
    ingest(stack, event)
    wait_delivered(clients, event["eventId"], "demo-mongodb")

    def listed() -> str:
        code, out = admin_cli(local_stack, capsys, "deadletters", "list", "--function", "forward_webhook",
                              "--partner", partner.whitelabel)
        return code == 0 and event["eventId"] in out and out

    out = poll(listed, timeout=60, interval=1.0, what="the event in forward_webhook's dead letters")
    assert "forward_webhook" in out and f"{MAX_ATTEMPTS} failed delivery attempts" in out
    logged = entry(clients, event["eventId"], "demo-webhook")
    assert logged["status"] == "failed" and logged["attempts"] == MAX_ATTEMPTS
    assert [r["answeredStatus"] for r in partner.deliveries(event["eventId"])] == [503] * MAX_ATTEMPTS

    code, out = admin_cli(local_stack, capsys, "deadletters", "replay", "--partner", partner.whitelabel)
    assert code == 0
    assert f"[1] forward_webhook: replayed event {event['eventId']}" in out and "replayed 1 dead letter(s)" in out

    logged = wait_delivered(clients, event["eventId"], "demo-webhook")
    assert logged["attempts"] == MAX_ATTEMPTS + 1
    assert [r["answeredStatus"] for r in partner.deliveries(event["eventId"])] == [503] * MAX_ATTEMPTS + [200]
    # The replay was for the webhook forwarder only: MongoDB and Cloud Storage saw it once.
    assert entry(clients, event["eventId"], "demo-mongodb")["attempts"] == 1
    assert entry(clients, event["eventId"], "demo-gcs")["attempts"] == 1
    code, out = admin_cli(local_stack, capsys, "deadletters", "list", "--function", "forward_webhook",
                              "--partner", partner.whitelabel)
    assert event["eventId"] not in out and "0 dead letter(s)" in out


def test_an_event_too_old_to_matter_is_dead_lettered_at_once_and_can_be_replayed(stack, local_stack, clients,
                                                                               partner, capsys):
    partner.fail_next(1)
    event = partner.event(eventDate="2022-08-29T19:13:13.783Z")
    ingest(stack, event)

    def listed() -> str:
        code, out = admin_cli(local_stack, capsys, "deadletters", "list", "--function", "forward_webhook",
                              "--partner", partner.whitelabel)
        return code == 0 and event["eventId"] in out and out

    out = poll(listed, timeout=30, interval=0.5, what="the old event in the dead letters")
    assert "too old" in out
    assert entry(clients, event["eventId"], "demo-webhook")["status"] == "dead_lettered"
    assert len(partner.deliveries(event["eventId"])) == 1  # no retry

    code, out = admin_cli(local_stack, capsys, "deadletters", "replay", "--partner", partner.whitelabel)
    assert code == 0 and "replayed 1 dead letter(s)" in out
    assert wait_delivered(clients, event["eventId"], "demo-webhook")["attempts"] == 2


def test_a_disabled_partner_gets_nothing(stack, clients, partner, local_stack, capsys):
    code, out = admin_cli(local_stack, capsys, "partners", "disable", partner.whitelabel)
    assert code == 0
    event = partner.event()
    ingest(stack, event)

    log_file = Path(stack["logs"]) / "function-forward_webhook.log"

    def acknowledged_without_delivery() -> bool:
        for line in log_file.read_text().splitlines():
            if event["eventId"] in line and line.startswith("{"):
                entry_ = json.loads(line)
                if entry_.get("message") == "acknowledged: nothing to deliver":
                    return entry_["reason"] == "no_destinations"  # a disabled partner has none
        return False

    poll(acknowledged_without_delivery, timeout=30, what="forward_webhook to acknowledge the event")
    assert partner.deliveries(event["eventId"]) == []
    assert entry(clients, event["eventId"], "demo-webhook") is None


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
                             for name in ("forward_webhook", "forward_mongodb", "forward_gcs"))
    assert '"message":"delivery failed"' in forwarder_logs
    for text in (stored, shown, forwarder_logs, function_logs(stack)):
        assert signing_secret not in text and key_material not in text
    for text in (stored, shown, forwarder_logs):
        assert connection_string not in text
