"""Baseline ``raw_mongodb``: pushed by Pub/Sub like forward_mongodb, inserts the message's event
with _id = eventId, one client per process (tools/bench)."""

import base64
import json
import os

import functions_framework
from cloudevents.http import CloudEvent
from pymongo import MongoClient
from pymongo.errors import DuplicateKeyError

collection = MongoClient(os.environ["BENCH_MONGODB_URI"])[os.environ["BENCH_DATABASE"]][os.environ["BENCH_COLLECTION"]]


@functions_framework.cloud_event
def raw_mongodb(cloud_event: CloudEvent) -> None:
    event = json.loads(base64.b64decode(cloud_event.data["message"]["data"]))
    try:
        collection.insert_one({**event, "_id": event["eventId"]})
    except DuplicateKeyError:
        pass
