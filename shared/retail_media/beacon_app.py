"""Wiring of the beacon for one process: settings, clients, and logging."""

from __future__ import annotations

from functools import lru_cache

import flask

from shared.platform import http, logs
from shared.platform.clients import firestore_client
from shared.platform.clock import utc_now
from shared.platform.publisher import EventPublisher
from shared.platform.settings import project_id
from shared.retail_media.beacon import BeaconService
from shared.retail_media.campaigns import AdLookup, CampaignStore
from shared.retail_media.settings import AttributionSettings, BeaconSettings

logs.configure()


@lru_cache(maxsize=1)
def service() -> BeaconService:
    settings = BeaconSettings.from_env()
    db = firestore_client()
    publisher = EventPublisher(project_id(), settings.conversions_topic, settings.publish_timeout_seconds)
    ads = AdLookup(CampaignStore(db).ad, settings.campaign_cache_seconds)
    return BeaconService(settings, db, ads, publisher.publish_many, utc_now, AttributionSettings.from_env())


def handle(request: flask.Request) -> flask.Response:
    return service().api.serve(request)


http.answer_framework_paths(handle)
