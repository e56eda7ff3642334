"""Baseline ``raw_publish``: json.loads of the body and one Pub/Sub publish, answered once
confirmed, one publisher client per process with the platform's batching settings (tools/bench)."""

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
def raw_publish(request: flask.Request) -> dict:
    event = json.loads(request.get_data())
    message_id = publisher.publish(TOPIC, json.dumps(event).encode("utf-8"), eventId=event["eventId"]).result(timeout=5)
    return {"messageId": message_id}
