"""Demo of ingest: the spec's example events in, what Pub/Sub received out."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Callable

import requests
from google.cloud import pubsub_v1

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "events"


def run(info: dict, show: Callable[[str], None]) -> None:
    show("== ingest: the spec's example events, posted to POST /v1/events ==")
    url = info["functions"]["ingest"] + "/v1/events"
    auth = {"Authorization": f"Bearer {info['dev_api_key']}"}
    subscriber = pubsub_v1.SubscriberClient()
    subscription = subscriber.subscription_path(info["project_id"], f"demo-{uuid.uuid4().hex[:8]}")
    subscriber.create_subscription(name=subscription, topic=info["topics"]["events"])
    try:
        sent = {}
        for example in sorted(EXAMPLES.glob("*.json")):
            event = json.loads(example.read_text())
            # The spec's three examples share one eventId; a fresh one each keeps them distinct
            # downstream, where eventId is the idempotency key.
            event["eventId"] = str(uuid.uuid4())
            request = {"name": event["eventType"], "version": 1, "flowId": str(uuid.uuid4()), "payload": event}
            answer = requests.post(url, json=request, headers=auth, timeout=10)
            body = answer.json()
            show(f"{example.name}: HTTP {answer.status_code} {body['name']} "
                 f"eventId={body['payload'].get('eventId')} messageId={body['payload'].get('messageId')}")
            sent[event["eventId"]] = event

        invalid = {"eventType": "user.interaction", "eventId": "not-a-uuid"}
        answer = requests.post(url, json=invalid, headers=auth, timeout=10)
        body = answer.json()
        show(f"an invalid event: HTTP {answer.status_code} {body['name']} code={body['payload']['code']} "
             f"fields={body['payload']['parameters'].get('fields')}")
        answer = requests.post(url, json=invalid, timeout=10)
        show(f"no API key: HTTP {answer.status_code} {answer.json()['name']} code={answer.json()['payload']['code']}")

        show("")
        show("pulled back from topic 'events':")
        received = 0
        while received < len(sent):
            response = subscriber.pull(subscription=subscription, max_messages=10, timeout=10)
            for message in response.received_messages:
                attributes = dict(message.message.attributes)
                same = json.loads(message.message.data) == sent.get(attributes.get("eventId"))
                show(f"  message {message.message.message_id}: attributes={attributes} "
                     f"body identical to what was sent: {same}")
                received += 1
            if response.received_messages:
                subscriber.acknowledge(subscription=subscription,
                                       ack_ids=[m.ack_id for m in response.received_messages])
    finally:
        subscriber.delete_subscription(subscription=subscription)
