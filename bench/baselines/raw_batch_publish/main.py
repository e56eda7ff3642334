"""Baseline ``raw_batch_publish``: json.loads of a JSON array of events and one message per event
handed to the client at once, answered once every one is confirmed (tools/bench)."""

import json
import os

import flask
import functions_framework
from google.cloud import pubsub_v1

from shared.platform.publisher import MAX_BATCH_BYTES, MAX_BATCH_LATENCY_SECONDS

publisher = pubsub_v1.PublisherClient(batch_settings=pubsub_v1.types.BatchSettings(
    max_messages=1000, max_bytes=MAX_BATCH_BYTES, max_latency=MAX_BATCH_LATENCY_SECONDS))
TOPIC = publisher.topic_path(os.environ["GOOGLE_CLOUD_PROJECT"], os.environ["BENCH_TOPIC"])


@functions_framework.http
def raw_batch_publish(request: flask.Request) -> dict:
    events = json.loads(request.get_data())
    futures = [publisher.publish(TOPIC, json.dumps(e).encode("utf-8"), eventId=e["eventId"]) for e in events]
    return {"published": len([f.result(timeout=5) for f in futures])}
