"""The reports API: ``GET /v1/reports/campaigns/{id}?from=YYYY-MM-DD&to=YYYY-MM-DD``.

Authenticated like ingest: an app API key as ``Authorization: Bearer <key>``, which reads the
reports of its scope's publishers (every publisher's for an admin key, none for a key without
a scope; shared.platform.api_keys). The campaign of another publisher answers 404 exactly like
a campaign that does not exist, so a key cannot even learn which campaign ids exist. ``to``
defaults to today (UTC), ``from`` to six days before ``to`` (at the earliest 0001-01-01); at most
MAX_REPORT_DAYS days.
Errors answer ``{"messages": [...]}`` with 400, 401, 404 or 405.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Mapping

from werkzeug.routing import Rule

from shared.platform.api_keys import ApiKeyVerifier, Scope
from shared.platform.clock import Clock
from shared.platform.http import Answer, HttpApi, MethodNotAllowed, Request, Routes
from shared.retail_media.beacon import Refused, internal_answer, messages
from shared.retail_media.campaigns import ID_PATTERN, CampaignStore
from shared.retail_media.reports import CampaignReports, report_json

ROUTES = Routes([Rule("/v1/reports/campaigns/<campaignId>", endpoint="campaign_report", methods=["GET"])])
DEFAULT_DAYS = 7
# A report request has no body; whatever a client sends is read no further than this.
MAX_BODY_BYTES = 1024


class ReportsApi:
    def __init__(self, keys: ApiKeyVerifier, campaigns: CampaignStore, reports: CampaignReports,
                 max_days: int, clock: Clock):
        self._keys = keys
        self._campaigns = campaigns
        self._reports = reports
        self._max_days = max_days
        self._clock = clock
        self.api = HttpApi(name="reports", handle=self.handle, body_limit=lambda _path: MAX_BODY_BYTES,
                           error_family=(Refused,), error_answer=self._error_answer, internal_answer=internal_answer)

    def handle(self, request: Request) -> Answer:
        route = ROUTES.match(request.method, request.path)
        scope = self._authenticate(request.headers.get("Authorization"))
        first, last = self._range(request.args)
        campaign_id = route.params["campaignId"]
        # An id no campaign can have (a Firestore-reserved __x__, say) is not looked up.
        campaign = self._campaigns.get(campaign_id) if ID_PATTERN.fullmatch(campaign_id) else None
        if campaign is None or not scope.may_read(campaign.publisher_id):
            raise Refused(404, messages(f"unknown campaign {campaign_id!r}"))
        return Answer(200, report_json(campaign, first, last, self._reports.daily(campaign.id, first, last)))

    @staticmethod
    def _error_answer(error: Exception, request: Request) -> Answer:
        if isinstance(error, Refused):
            return Answer(error.status, error.body)
        if isinstance(error, MethodNotAllowed):
            return Answer(405, messages("use GET"))
        return Answer(404, messages(f"no route for {request.method} {request.path}"))

    def _authenticate(self, authorization: str | None) -> Scope:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise Refused(401, messages("send an API key as 'Authorization: Bearer <key>'"))
        verified = self._keys.verify(key.strip())
        if verified is None:
            raise Refused(401, messages("unknown, malformed or revoked API key"))
        return verified.scope

    def _range(self, args: Mapping[str, str]) -> tuple[date, date]:
        last = _date(args, "to") or self._clock().date()
        # The default never reaches before the first day there is (0001-01-01).
        first = _date(args, "from") or last - timedelta(days=min(DEFAULT_DAYS - 1, (last - date.min).days))
        if first > last:
            raise Refused(400, messages("'from' is after 'to'"))
        if (last - first).days + 1 > self._max_days:
            raise Refused(400, messages(f"a report covers at most {self._max_days} days"))
        return first, last


def _date(args: Mapping[str, str], name: str) -> date | None:
    value = args.get(name)
    if not value:
        return None
    if re.fullmatch(r"\d{4}-\d\d-\d\d", value, re.ASCII):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise Refused(400, messages(f"'{name}' must be a date YYYY-MM-DD"))
