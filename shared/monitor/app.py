"""Wiring of the monitor service for one process: settings, clients, logging."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

import flask

from shared.monitor.config import CachedConfig, ConfigStore
from shared.monitor.idempotency import IdempotencyStore
from shared.monitor.service import MonitorService
from shared.monitor.settings import MonitorSettings
from shared.monitor.store import UserStore
from shared.platform import http, logs
from shared.platform.api_keys import ApiKeyStore, ApiKeyVerifier
from shared.platform.clients import firestore_client
from shared.platform.clock import utc_now
from shared.platform.publisher import EventPublisher
from shared.platform.settings import project_id

logs.configure()


@lru_cache(maxsize=1)
def service() -> MonitorService:
    settings = MonitorSettings.from_env()
    db = firestore_client()
    publisher = EventPublisher(project_id(), settings.events_topic, settings.publish_timeout_seconds)
    keys = ApiKeyVerifier(ApiKeyStore(db).lookup, settings.api_key_cache_seconds)
    monitor_config = CachedConfig(ConfigStore(db).load, settings.config_cache_seconds)
    idempotency = IdempotencyStore(db, utc_now, timedelta(seconds=settings.idempotency_seconds))
    return MonitorService(keys, monitor_config.get, UserStore(db), publisher.publish_many, settings.max_body_bytes,
                          idempotency)


def handle(request: flask.Request) -> flask.Response:
    return service().api.serve(request)


http.answer_framework_paths(handle)
