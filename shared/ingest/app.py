"""Wiring of the ingest service for one process: settings, clients, and the Flask glue."""

from __future__ import annotations

import json
from functools import lru_cache

import flask

from shared.ingest.service import IngestService
from shared.ingest.settings import IngestSettings
from shared.platform.api_keys import ApiKeyStore, ApiKeyVerifier
from shared.platform.clients import firestore_client
from shared.platform.http import read_bounded
from shared.platform.publisher import EventPublisher
from shared.platform.settings import project_id


@lru_cache(maxsize=1)
def service() -> IngestService:
    settings = IngestSettings.from_env()
    publisher = EventPublisher(project_id(), settings.events_topic, settings.publish_timeout_seconds)
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
