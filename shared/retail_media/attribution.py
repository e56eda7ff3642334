"""Attribution: which campaigns earned a conversion, and how much revenue.

A campaign's **touchpoint** qualifies for a conversion when the same user (user_id) or session
(session_id) clicked one of the campaign's ads (any type), or viewed one of its display or
video ads, within the window (14 days) before the order's ``created_at``, both ends included
(plus a few minutes after it: the two times come from different clocks), on the conversion's
publisher. A click on a display or video ad counts as a view: the spec makes views optional
for publishers, and a click implies the ad was seen.

The model is **last touch per item**: each purchased item goes to at most one campaign, the
one whose SKUs include the item's SKU (the spec's product match rule) and whose latest
qualifying touchpoint is the most recent (on a tie, the greatest campaign id). A campaign is
credited with the revenue of the items it won (promotional_price x quantity, see
``conversion``) and one conversion; a campaign that won no item gets nothing. So the revenue
credited over all campaigns never exceeds the order's revenue, however many campaigns share
a SKU.

The attribution function runs this for each message of topic ``conversions`` and stores
``attributions/<conversionId>_<campaignId>`` and ``conversions/<conversionId>`` in one atomic
batch that *creates* the conversion: a conversionId is attributed once. A redelivered message, or
a conversion the beacon published again (the same order resent: the same conversionId), finds
it recorded and changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

from google.api_core.exceptions import AlreadyExists
from google.cloud import firestore

from shared.platform.clock import Clock
from shared.retail_media.beacon import TOUCHPOINTS, schema
from shared.retail_media.campaigns import ATTRIBUTING_EVENTS, Campaign, CampaignStore
from shared.retail_media.conversion import Flags, revenue_micros, stored_order

ATTRIBUTIONS = "attributions"
CONVERSIONS = "conversions"

_CREATED_AT = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:Z|\+00:00)", re.ASCII)


@dataclass(frozen=True)
class Touchpoint:
    campaign_id: str
    campaign_type: str
    publisher_id: str
    ad_id: str
    kind: str
    user_id: str | None
    session_id: str
    at: datetime
    expire_at: datetime

    @classmethod
    def from_document(cls, data: dict[str, Any]) -> "Touchpoint":
        return cls(data["campaignId"], data["campaignType"], data["publisherId"], data["adId"], data["kind"],
                   data.get("userId"), data["sessionId"], data["at"], data["expireAt"])


@dataclass(frozen=True)
class Attribution:
    campaign_id: str
    touchpoint: Touchpoint
    matched_skus: list[str]
    revenue_micros: int


def parse_created_at(text: str) -> datetime:
    """``created_at`` as validated by the conversion schema (UTC, up to nanoseconds, a leap
    second 60 allowed) as a datetime, truncated to microseconds, 60 s clamped to 59.999999."""
    match = _CREATED_AT.fullmatch(text)
    if not match:
        raise ValueError(f"created_at {text!r} is not an ISO 8601 UTC date-time")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    micro = int((match.group(7) or "0").ljust(6, "0")[:6])
    if second == 60:
        second, micro = 59, 999_999
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Window:
    before: timedelta  # how long before created_at a touchpoint counts (14 days)
    skew: timedelta  # how long after created_at, for clock differences

    def bounds(self, created_at: datetime) -> tuple[datetime, datetime]:
        return created_at - self.before, created_at + self.skew


def attribute(conversion: dict[str, Any], created_at: datetime, touchpoints: Iterable[Touchpoint],
              campaigns: dict[str, Campaign], window: Window, now: datetime) -> list[Attribution]:
    """Last touch per item (see the module's docstring), one Attribution per campaign credited."""
    latest: dict[str, Touchpoint] = {}
    for touchpoint in touchpoints:
        if touchpoint.campaign_id not in campaigns or not _qualifies(touchpoint, conversion, created_at, window, now):
            continue
        current = latest.get(touchpoint.campaign_id)
        if current is None or touchpoint.at > current.at:
            latest[touchpoint.campaign_id] = touchpoint
    won: dict[str, list[dict[str, Any]]] = {}
    for item in conversion["items"]:
        candidates = [(touchpoint.at, campaign_id) for campaign_id, touchpoint in latest.items()
                      if item["sku"] in campaigns[campaign_id].skus]
        if candidates:
            won.setdefault(max(candidates)[1], []).append(item)
    return [Attribution(campaign_id, latest[campaign_id], sorted({item["sku"] for item in items}),
                        revenue_micros(items))
            for campaign_id, items in sorted(won.items())]


def _qualifies(touchpoint: Touchpoint, conversion: dict[str, Any], created_at: datetime, window: Window,
               now: datetime) -> bool:
    first, last = window.bounds(created_at)
    same_person = (touchpoint.session_id == conversion["session_id"]
                   or (touchpoint.user_id is not None and touchpoint.user_id == conversion["user_id"]))
    return (same_person
            and touchpoint.publisher_id == conversion["publisher_id"]
            and touchpoint.kind in ATTRIBUTING_EVENTS.get(touchpoint.campaign_type, ())
            and first <= touchpoint.at <= last
            and touchpoint.expire_at > now)


class AttributionService:
    def __init__(self, db: firestore.Client, campaigns: CampaignStore, window: Window, clock: Clock):
        self._db = db
        self._campaigns = campaigns
        self._window = window
        self._clock = clock

    def process(self, message: dict[str, Any]) -> list[Attribution] | None:
        """Attribute one message of topic ``conversions`` and store the outcome; None when its
        conversionId was already attributed (that first attribution stands)."""
        conversion_id = message["conversionId"]
        conversion = message["conversion"]
        created_at = parse_created_at(conversion["created_at"])
        touchpoints = self._touchpoints(conversion, created_at)
        campaigns = self._campaigns.get_many(sorted({t.campaign_id for t in touchpoints}))
        now = self._clock()
        attributions = attribute(conversion, created_at, touchpoints, campaigns, self._window, now)
        day = created_at.date().isoformat()
        batch = self._db.batch()
        for a in attributions:
            batch.set(self._db.collection(ATTRIBUTIONS).document(f"{conversion_id}_{a.campaign_id}"), {
                "conversionId": conversion_id, "campaignId": a.campaign_id,
                "publisherId": conversion["publisher_id"], "orderId": conversion["order_id"],
                "createdAt": created_at, "day": day, "revenueMicros": a.revenue_micros,
                "matchedSkus": a.matched_skus,
                "touchpoint": {"adId": a.touchpoint.ad_id, "kind": a.touchpoint.kind, "at": a.touchpoint.at},
                "attributedAt": now,
            })
        batch.create(self._db.collection(CONVERSIONS).document(conversion_id), {
            "publisherId": conversion["publisher_id"], "orderId": conversion["order_id"],
            "userId": conversion["user_id"], "sessionId": conversion["session_id"],
            "createdAt": created_at, "day": day, "receivedAt": message.get("receivedAt"),
            "order": stored_order(conversion, schema("conversion").schema),
            "revenueMicros": revenue_micros(conversion["items"]),
            "flags": Flags.from_json(message.get("flags")).to_json(),
            "attributed": bool(attributions),
            "campaigns": [{"campaignId": a.campaign_id, "revenueMicros": a.revenue_micros,
                           "matchedSkus": a.matched_skus} for a in attributions],
            "processedAt": now,
        })
        try:
            batch.commit()
        except AlreadyExists:
            return None
        return attributions

    def _touchpoints(self, conversion: dict[str, Any], created_at: datetime) -> list[Touchpoint]:
        """Touchpoints of the conversion's user or session within the window: two indexed queries."""
        found: dict[str, Touchpoint] = {}
        first, last = self._window.bounds(created_at)
        for field, value in (("userId", conversion["user_id"]), ("sessionId", conversion["session_id"])):
            query = (self._db.collection(TOUCHPOINTS)
                     .where(filter=firestore.FieldFilter(field, "==", value))
                     .where(filter=firestore.FieldFilter("at", ">=", first))
                     .where(filter=firestore.FieldFilter("at", "<=", last)))
            for snapshot in query.stream():
                found[snapshot.id] = Touchpoint.from_document(snapshot.to_dict() or {})
        return list(found.values())
