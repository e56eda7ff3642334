"""Demo of forwarding: one event in through ingest, out at the demo partner's three destinations;
then the spec's three examples as they are, sharing one eventId: one delivered, two held as
event_id_conflict, then replayed under fresh eventIds."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import requests
from google.cloud import firestore, storage
from pymongo import MongoClient

from shared.events.message import encode_event
from shared.forwarding.delivery_log import COLLECTION as DELIVERY_LOG
from shared.forwarding.destinations.gcs import object_name
from shared.forwarding.holds import EVENT_ID_CONFLICT
from shared.forwarding.message import ForwardedEvent, PubSubMessage, content_hash, fresh_event_id
from tools.admin_commands import deadletters

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "events"
EXAMPLE = EXAMPLES / "user.interaction.view.json"
WAIT_SECONDS = 30.0


def _wait(what: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.2)
    return None


def run(info: dict, show: Callable[[str], None]) -> None:
    partner = info["demo_partner"]
    hooks, mongo, gcs = (partner["destinations"][k] for k in ("webhook", "mongodb", "gcs"))
    show(f"== forwarding: one event to partner {partner['whitelabel']!r} (webhook, MongoDB, Cloud Storage) ==")
    event = json.loads(EXAMPLE.read_text())
    event["eventId"] = str(uuid.uuid4())
    body = encode_event(event)
    answer = requests.post(info["functions"]["ingest"] + "/v1/events", data=body, timeout=10,
                           headers={"Authorization": f"Bearer {info['dev_api_key']}",
                                    "Content-Type": "application/json"})
    show(f"ingested eventId={event['eventId']}: HTTP {answer.status_code} {answer.json()['name']}")

    def webhook_delivery() -> dict | None:
        found = requests.get(partner["deliveries_url"], params={"webhookId": event["eventId"]}, timeout=5).json()
        return next(iter(found["deliveries"]), None)

    received = _wait(webhook_delivery)
    if received:
        headers = received["headers"]
        show(f"webhook  {hooks['url']}: POST received, webhook-id={headers.get('webhook-id')} "
             f"X-Flow-Id={headers.get('x-flow-id')}")
        show(f"         signature verified by the sink (standardwebhooks): {received['signatureValid']}; "
             f"body identical to what was ingested: {received['body'].encode('utf-8') == body}")
    else:
        show(f"webhook  {hooks['url']}: nothing received within {WAIT_SECONDS:g} s")

    collection = MongoClient(info["emulators"]["mongodb"])[mongo["database"]][mongo["collection"]]
    document = _wait(lambda: collection.find_one({"_id": event["eventId"]}))
    same = document is not None and {k: v for k, v in document.items() if k != "_id"} == event
    show(f"mongodb  {mongo['database']}.{mongo['collection']}: "
         + (f"document _id={document['_id']}, same event: {same}" if document else f"nothing within {WAIT_SECONDS:g} s"))

    name = object_name(gcs["prefix"], ForwardedEvent.from_message(PubSubMessage(body)))
    blob = storage.Client(project=info["project_id"]).bucket(gcs["bucket"]).blob(name)
    stored = _wait(lambda: blob.exists() and blob.download_as_bytes())
    show(f"gcs      gs://{gcs['bucket']}/{name}: "
         + (f"{blob.content_type}, bytes identical to what was ingested: {stored == body}"
            if stored else f"nothing within {WAIT_SECONDS:g} s"))

    db = firestore.Client(project=info["project_id"])
    for destination in (hooks, mongo, gcs):
        entry = _wait(lambda: (db.collection(DELIVERY_LOG).document(f"{event['eventId']}:{destination['id']}")
                               .get().to_dict()))
        if entry:
            show(f"delivery log {event['eventId']}:{destination['id']}: status={entry['status']} "
                 f"attempts={entry['attempts']} result={entry['lastResult']!r}")
    show(f"the sink's record of every delivery (headers and body): {partner['deliveries_url']}")
    _spec_examples_sharing_one_event_id(info, show)


def _spec_examples_sharing_one_event_id(info: dict, show: Callable[[str], None]) -> None:
    partner = info["demo_partner"]
    show("")
    show("== forwarding: the spec's three examples as they are: one eventId for view, leave and open ==")
    examples = [json.loads((EXAMPLES / f"user.interaction.{kind}.json").read_text()) for kind in ("view", "leave", "open")]
    for event in examples:
        answer = requests.post(info["functions"]["ingest"] + "/v1/events", data=encode_event(event), timeout=10,
                               headers={"Authorization": f"Bearer {info['dev_api_key']}",
                                        "Content-Type": "application/json"})
        show(f"{event['data']['type']:<5} eventId={event['eventId']}: HTTP {answer.status_code} {answer.json()['name']}")
    event_id = examples[0]["eventId"]
    db = firestore.Client(project=info["project_id"])
    owner = _wait(lambda: (db.collection(DELIVERY_LOG).document(event_id).get().to_dict() or {}).get("contentHash"))
    delivered = next((e for e in examples if content_hash(e) == owner), None)
    held = [e for e in examples if e is not delivered]
    show(f"delivered under {event_id}: {delivered['data']['type'] if delivered else 'nothing yet'} (the first to arrive); "
         f"held as {EVENT_ID_CONFLICT}: {', '.join(e['data']['type'] for e in held)}")
    letters = _wait(lambda: (found := _conflicts(partner["whitelabel"])) and len(found) >= 2 * len(held) and found)
    for letter in letters or []:
        show(f"  dead letter of {letter.function} for {letter.target}: {letter.reason}: {letter.detail}")
    show("replaying them under fresh eventIds (python -m tools.admin deadletters replay --partner "
         f"{partner['whitelabel']} --fresh-event-ids):")
    deadletters.replay(function=None, partner=partner["whitelabel"], reasons={EVENT_ID_CONFLICT},
                       fresh_event_ids=True, out=lambda line: show(f"  {line}"))
    for event in held:
        new_id = fresh_event_id(event_id, content_hash(event))
        entry = _wait(lambda: (d := db.collection(DELIVERY_LOG).document(f"{new_id}:{partner['destinations']['webhook']['id']}")
                               .get().to_dict()) and d.get("status") == "delivered" and d)
        show(f"{event['data']['type']:<5} now eventId={new_id}: webhook "
             + ("delivered" if entry else f"not delivered within {WAIT_SECONDS:g} s"))


def _conflicts(whitelabel: str) -> list[deadletters.DeadLetter]:
    found = []
    for hold in deadletters.hold_subscriptions():
        try:
            found += [l for l in hold.pull_all() if l.partner == whitelabel and l.reason == EVENT_ID_CONFLICT]
        finally:
            hold.release()
    return found
