"""Wiring of the ingest service for one process: settings, clients, and the Flask glue."""

from __future__ import annotations

import json
from functools import lru_cache

import flask

from shared import config
from shared.api_keys import ApiKeyStore, ApiKeyVerifier
from shared.clients import firestore_client
from shared.http_body import read_bounded
from shared.ingest import IngestService
from shared.publisher import EventPublisher


@lru_cache(maxsize=1)
def service() -> IngestService:
    settings = config.IngestSettings.from_env()
    publisher = EventPublisher(config.project_id(), settings.events_topic, settings.publish_timeout_seconds)
    keys = ApiKeyVerifier(ApiKeyStore(firestore_client()).lookup, settings.api_key_cache_seconds)
    return IngestService(settings, publisher.publish_many, keys)


def handle(request: flask.Request) -> flask.Response:
    ingest = service()
    limit = ingest.body_limit(request.path)
    body, too_large = read_bounded(request, limit)
    answer = ingest.handle(request.method, request.path, request.headers.get("Authorization"), body, too_large)
    return flask.Response(
        json.dumps(answer.body, ensure_ascii=False), status=answer.status, mimetype="application/json"
    )
