"""Wiring of the reports function for one process: settings, clients, and logging."""

from __future__ import annotations

from functools import lru_cache

import flask

from shared.platform import http, logs
from shared.platform.api_keys import ApiKeyStore, ApiKeyVerifier
from shared.platform.clients import firestore_client
from shared.platform.clock import utc_now
from shared.retail_media.campaigns import CampaignStore
from shared.retail_media.reports import CampaignReports
from shared.retail_media.reports_api import ReportsApi
from shared.retail_media.settings import ReportsSettings

logs.configure()


@lru_cache(maxsize=1)
def service() -> ReportsApi:
    settings = ReportsSettings.from_env()
    db = firestore_client()
    keys = ApiKeyVerifier(ApiKeyStore(db).lookup, settings.api_key_cache_seconds)
    return ReportsApi(keys, CampaignStore(db), CampaignReports(db), settings.max_report_days, utc_now)


def handle(request: flask.Request) -> flask.Response:
    return service().api.serve(request)


http.answer_framework_paths(handle)
