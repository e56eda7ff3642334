"""Demo of forwarding: one event in through ingest, out at the demo partner's three destinations."""

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
from shared.forwarding.message import ForwardedEvent, PubSubMessage

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "events" / "user.interaction.view.json"
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
