"""Baseline ``raw_firestore``: json.loads of the body and one Firestore document create(), one
client per process (tools/bench)."""

import json
import os

import flask
import functions_framework
from google.cloud import firestore

db = firestore.Client(project=os.environ["GOOGLE_CLOUD_PROJECT"])


@functions_framework.http
def raw_firestore(request: flask.Request) -> tuple[dict, int]:
    db.collection("bench_raw_firestore").document().create(json.loads(request.get_data()))
    return {}, 202
