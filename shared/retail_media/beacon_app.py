"""Wiring of the beacon for one process: settings, clients, and the Flask glue."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import lru_cache

import flask

from shared.platform.clients import firestore_client
from shared.platform.clock import utc_now
from shared.platform.http import read_bounded
from shared.platform.publisher import EventPublisher
from shared.platform.settings import project_id
from shared.retail_media.beacon import BeaconService
from shared.retail_media.campaigns import AdLookup, CampaignStore
from shared.retail_media.settings import AttributionSettings, BeaconSettings


@lru_cache(maxsize=1)
def service() -> BeaconService:
    settings = BeaconSettings.from_env()
    db = firestore_client()
    publisher = EventPublisher(project_id(), settings.conversions_topic, settings.publish_timeout_seconds)
    ads = AdLookup(CampaignStore(db).ad, settings.campaign_cache_seconds)
    touchpoint_ttl = timedelta(seconds=AttributionSettings.from_env().touchpoint_ttl_seconds)
    return BeaconService(settings, db, ads, publisher.publish_many, utc_now, touchpoint_ttl)


def handle(request: flask.Request) -> flask.Response:
    beacon = service()
    limit = beacon.body_limit(request.path)
    body, too_large = read_bounded(request, limit)
    answer = beacon.handle(request.method, request.path, request.headers, body, too_large)
    payload = "" if answer.body is None else json.dumps(answer.body, ensure_ascii=False)
    return flask.Response(payload, status=answer.status, headers=answer.headers,
                          mimetype=None if answer.body is None else "application/json")
