"""Wiring of the monitor service for one process: settings, clients, and the Flask glue."""

from __future__ import annotations

import json
from functools import lru_cache

import flask

from shared.monitor.config import CachedConfig, ConfigStore
from shared.monitor.service import MonitorRequest, MonitorService
from shared.monitor.settings import MonitorSettings
from shared.monitor.store import UserStore
from shared.platform.api_keys import ApiKeyStore, ApiKeyVerifier
from shared.platform.clients import firestore_client
from shared.platform.http import read_bounded
from shared.platform.publisher import EventPublisher
from shared.platform.settings import project_id


@lru_cache(maxsize=1)
def settings() -> MonitorSettings:
    return MonitorSettings.from_env()


@lru_cache(maxsize=1)
def service() -> MonitorService:
    current = settings()
    db = firestore_client()
    publisher = EventPublisher(project_id(), current.events_topic, current.publish_timeout_seconds)
    keys = ApiKeyVerifier(ApiKeyStore(db).lookup, current.api_key_cache_seconds)
    monitor_config = CachedConfig(ConfigStore(db).load, current.config_cache_seconds)
    return MonitorService(keys, monitor_config.get, UserStore(db), publisher.publish_many)


def handle(request: flask.Request) -> flask.Response:
    limit = settings().max_body_bytes
    body, too_large = read_bounded(request, limit)
    answer = service().handle(MonitorRequest(
        method=request.method,
        path=request.path,
        headers={name.lower(): value for name, value in request.headers.items()},
        remote_addr=request.remote_addr or "",
        body=body,
        too_large=too_large,
    ))
    if answer.body is None:
        return flask.Response(status=answer.status, headers=answer.headers)
    return flask.Response(json.dumps(answer.body, ensure_ascii=False), status=answer.status,
                          mimetype="application/json", headers=answer.headers)
