"""Wiring of the ingest service for one process: settings, clients, logging."""

from __future__ import annotations

from functools import lru_cache

import flask

from shared.ingest.service import IngestService
from shared.ingest.settings import IngestSettings
from shared.platform import http, logs
from shared.platform.api_keys import ApiKeyStore, ApiKeyVerifier
from shared.platform.clients import firestore_client
from shared.platform.publisher import EventPublisher
from shared.platform.settings import project_id

logs.configure()


@lru_cache(maxsize=1)
def service() -> IngestService:
    settings = IngestSettings.from_env()
    publisher = EventPublisher(project_id(), settings.events_topic, settings.publish_timeout_seconds)
    keys = ApiKeyVerifier(ApiKeyStore(firestore_client()).lookup, settings.api_key_cache_seconds)
    return IngestService(settings, publisher.publish_many, keys)


def handle(request: flask.Request) -> flask.Response:
    return service().api.serve(request)


http.answer_framework_paths(handle)
