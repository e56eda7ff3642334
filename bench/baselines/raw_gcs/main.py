"""Baseline ``raw_gcs``: pushed by Pub/Sub like forward_gcs, writes the message's event as one
object (create only), one client per process (tools/bench)."""

import base64
import json
import os

import functions_framework
from cloudevents.http import CloudEvent
from google.api_core.exceptions import PreconditionFailed
from google.cloud import storage

bucket = storage.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"]).bucket(os.environ["BENCH_BUCKET"])
PREFIX = os.environ["BENCH_PREFIX"]


@functions_framework.cloud_event
def raw_gcs(cloud_event: CloudEvent) -> None:
    data = base64.b64decode(cloud_event.data["message"]["data"])
    try:
        bucket.blob(f"{PREFIX}/{json.loads(data)['eventId']}.json").upload_from_string(
            data, content_type="application/json", if_generation_match=0)
    except PreconditionFailed:
        pass
