"""Baselines ``raw_publish`` and ``raw_batch_publish`` (tools/bench): json.loads of the body, then
Pub/Sub publishes answered once every one is confirmed, with one publisher client per process
and the platform's batching settings.

- ``raw_publish``: the body is one event, one message;
- ``raw_batch_publish``: the body is a JSON array of events, one message each, all handed to the
  client at once.
"""

import json
import os

import flask
import functions_framework
from google.cloud import pubsub_v1

from shared.platform.publisher import MAX_BATCH_BYTES, MAX_BATCH_LATENCY_SECONDS

publisher = pubsub_v1.PublisherClient(batch_settings=pubsub_v1.types.BatchSettings(
    max_messages=1000, max_bytes=MAX_BATCH_BYTES, max_latency=MAX_BATCH_LATENCY_SECONDS))
TOPIC = publisher.topic_path(os.environ["GOOGLE_CLOUD_PROJECT"], os.environ["BENCH_TOPIC"])


def _publish(events: list[dict]) -> list[str]:
    futures = [publisher.publish(TOPIC, json.dumps(e).encode("utf-8"), eventId=e["eventId"]) for e in events]
    return [f.result(timeout=5) for f in futures]


@functions_framework.http
def raw_publish(request: flask.Request) -> dict:
    return {"messageId": _publish([json.loads(request.get_data())])[0]}


@functions_framework.http
def raw_batch_publish(request: flask.Request) -> dict:
    return {"published": len(_publish(json.loads(request.get_data())))}
