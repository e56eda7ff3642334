"""Campaign reports: per day, impressions, views, clicks, conversions and attributed revenue.

Nothing is counted on the write path: each counted ad event is its own ``ad_events`` document
and each attribution its own ``attributions`` document (random or per-conversion ids, so no
document takes more than one write), and a report asks Firestore for ``count()`` and
``sum(revenueMicros)`` aggregations per day, in parallel. Days are UTC dates: an ad event's day
is when it was received, a conversion's is its ``created_at``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1 import aggregation

from shared.retail_media.attribution import ATTRIBUTIONS
from shared.retail_media.beacon import AD_EVENT_KINDS, AD_EVENTS
from shared.retail_media.campaigns import Campaign
from shared.retail_media.conversion import MICROS

COUNTED = {"impression": "impressions", "view": "views", "click": "clicks"}
# Aggregation requests in flight at once for one report.
PARALLEL_QUERIES = 16


@dataclass(frozen=True)
class DayReport:
    day: date
    impressions: int = 0
    views: int = 0
    clicks: int = 0
    conversions: int = 0
    revenue_micros: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "impressions": self.impressions, "views": self.views,
                "clicks": self.clicks, "conversions": self.conversions,
                "attributed_revenue": revenue(self.revenue_micros)}


def revenue(micros: int) -> float:
    return float(Decimal(micros) / MICROS)


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class CampaignReports:
    def __init__(self, db: firestore.Client):
        self._db = db

    def daily(self, campaign_id: str, first: date, last: date) -> list[DayReport]:
        days = days_between(first, last)
        with ThreadPoolExecutor(PARALLEL_QUERIES) as pool:
            events = {(day, kind): pool.submit(self._count_events, campaign_id, day, kind)
                      for day in days for kind in AD_EVENT_KINDS}
            conversions = {day: pool.submit(self._conversions, campaign_id, day) for day in days}
            return [DayReport(day, **{COUNTED[kind]: events[day, kind].result() for kind in AD_EVENT_KINDS},
                              conversions=conversions[day].result()[0], revenue_micros=conversions[day].result()[1])
                    for day in days]

    def _count_events(self, campaign_id: str, day: date, kind: str) -> int:
        query = (self._db.collection(AD_EVENTS)
                 .where(filter=firestore.FieldFilter("campaignId", "==", campaign_id))
                 .where(filter=firestore.FieldFilter("day", "==", day.isoformat()))
                 .where(filter=firestore.FieldFilter("kind", "==", kind)))
        return int(_values(query.count(alias="n"))["n"])

    def _conversions(self, campaign_id: str, day: date) -> tuple[int, int]:
        query = (self._db.collection(ATTRIBUTIONS)
                 .where(filter=firestore.FieldFilter("campaignId", "==", campaign_id))
                 .where(filter=firestore.FieldFilter("day", "==", day.isoformat())))
        values = _values(aggregation.AggregationQuery(query).count(alias="n").sum("revenueMicros", alias="micros"))
        return int(values["n"]), int(values["micros"] or 0)


def _values(query: aggregation.AggregationQuery) -> dict[str, Any]:
    return {result.alias: result.value for row in query.get() for result in row}


def report_json(campaign: Campaign, first: date, last: date, days: list[DayReport]) -> dict[str, Any]:
    totals = DayReport(first, *(sum(getattr(d, f) for d in days)
                                for f in ("impressions", "views", "clicks", "conversions", "revenue_micros")))
    total_json = totals.to_json()
    del total_json["date"]
    return {"campaign_id": campaign.id, "name": campaign.name, "type": campaign.type,
            "publisher_id": campaign.publisher_id, "from": first.isoformat(), "to": last.isoformat(),
            "days": [d.to_json() for d in days], "totals": total_json}
