"""The campaign registry: which ads exist, whose they are, and which SKUs each campaign sells.

Operators load campaigns from a YAML file with the admin CLI (``campaigns apply -f FILE``).
Firestore holds ``campaigns/<campaignId>`` (publisher, type, SKUs, ad ids) and one
``campaign_ads/<adId>`` per ad (its campaign, type and publisher), so the beacon resolves an
ad with a single document read, cached per instance for a short while.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from google.cloud import firestore

CAMPAIGNS = "campaigns"
CAMPAIGN_ADS = "campaign_ads"
TYPES = ("product", "display", "video")
# The ad events of each campaign type that can attribute a sale (touchpoints): a click on a
# product ad; a view of a display or video ad, or a click on one (a click implies a view, and
# the spec makes views optional, so a publisher that does not measure them still attributes).
ATTRIBUTING_EVENTS = {"product": frozenset({"click"}), "display": frozenset({"view", "click"}),
                      "video": frozenset({"view", "click"})}
# Ids appear in URLs and as Firestore document ids.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


class CampaignFileError(ValueError):
    """The campaign file is not valid; the message lists every problem."""


@dataclass(frozen=True)
class Campaign:
    id: str
    publisher_id: str
    type: str
    skus: tuple[str, ...]
    ad_ids: tuple[str, ...]
    name: str = ""

    def to_info(self) -> dict[str, Any]:
        """The campaign as stack.json and the CLI show it."""
        return {"id": self.id, "name": self.name, "type": self.type, "publisher_id": self.publisher_id,
                "ad_ids": list(self.ad_ids), "skus": list(self.skus)}


@dataclass(frozen=True)
class Ad:
    ad_id: str
    campaign_id: str
    campaign_type: str
    publisher_id: str


def parse_campaigns(document: Any) -> list[Campaign]:
    """Read ``{"campaigns": [{id, publisher_id, type, skus, ad_ids, name?}, ...]}``."""
    problems: list[str] = []
    items = document.get("campaigns") if isinstance(document, dict) else None
    if not isinstance(items, list) or not items:
        raise CampaignFileError("the file must have a non-empty list 'campaigns'")
    campaigns: list[Campaign] = []
    owner_of_ad: dict[str, str] = {}
    seen_ids: set[str] = set()
    for index, item in enumerate(items):
        where = f"campaigns[{index}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        unknown = set(item) - {"id", "name", "publisher_id", "type", "skus", "ad_ids"}
        if unknown:
            problems.append(f"{where}: unknown fields {sorted(unknown)}")
        campaign_id = _identifier(item.get("id"), f"{where}.id", problems)
        publisher_id = _identifier(item.get("publisher_id"), f"{where}.publisher_id", problems)
        if item.get("type") not in TYPES:
            problems.append(f"{where}.type: must be one of {', '.join(TYPES)}")
        name = item.get("name", "")
        if not isinstance(name, str):
            problems.append(f"{where}.name: must be a string")
        skus = _string_list(item.get("skus"), f"{where}.skus", problems, pattern=None)
        ad_ids = _string_list(item.get("ad_ids"), f"{where}.ad_ids", problems, pattern=ID_PATTERN)
        for ad_id in ad_ids:
            if ad_id in owner_of_ad and owner_of_ad[ad_id] != campaign_id:
                problems.append(f"{where}.ad_ids: {ad_id!r} also belongs to campaign {owner_of_ad[ad_id]!r}")
            owner_of_ad[ad_id] = campaign_id or ""
        if campaign_id and campaign_id in seen_ids:
            problems.append(f"{where}.id: {campaign_id!r} appears twice")
        seen_ids.add(campaign_id)
        if not problems:
            campaigns.append(Campaign(campaign_id, publisher_id, item["type"], tuple(skus), tuple(ad_ids), name))
    if problems:
        raise CampaignFileError("invalid campaign file:\n  - " + "\n  - ".join(problems))
    return campaigns


def shared_skus(campaigns: Iterable[Campaign]) -> list[tuple[str, str, list[str]]]:
    """``(publisher_id, sku, campaign ids)`` for every SKU that campaigns of one publisher share.
    Allowed (two brands may promote one product), but a sale of it is credited to one of them
    only (last touch per item, see attribution), which operators should know."""
    owners: dict[tuple[str, str], list[str]] = {}
    for campaign in campaigns:
        for sku in campaign.skus:
            owners.setdefault((campaign.publisher_id, sku), []).append(campaign.id)
    return [(publisher_id, sku, sorted(ids)) for (publisher_id, sku), ids in sorted(owners.items()) if len(ids) > 1]


def _identifier(value: Any, where: str, problems: list[str]) -> str:
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        problems.append(f"{where}: must be 1-128 characters of letters, digits and . _ : - "
                        "(starting with a letter or digit)")
        return ""
    return value


def _string_list(value: Any, where: str, problems: list[str], pattern: re.Pattern[str] | None) -> list[str]:
    if not isinstance(value, list) or not value:
        problems.append(f"{where}: must be a non-empty list")
        return []
    result = []
    for index, entry in enumerate(value):
        if isinstance(entry, (int, float)) and not isinstance(entry, bool):
            problems.append(f"{where}[{index}]: {entry!r} must be quoted (YAML reads it as a number)")
        elif not isinstance(entry, str) or not entry or (pattern and not pattern.fullmatch(entry)):
            problems.append(f"{where}[{index}]: {entry!r} is not a valid value")
        elif entry in result:
            problems.append(f"{where}[{index}]: {entry!r} appears twice")
        else:
            result.append(entry)
    return result


class CampaignStore:
    def __init__(self, db: firestore.Client):
        self._db = db

    def apply(self, campaign: Campaign) -> list[str]:
        """Create or replace ``campaign`` and its ads, atomically; returns the ad ids it no longer
        has (their documents are deleted). An ad of another campaign is refused."""
        ads = self._db.collection(CAMPAIGN_ADS)
        for snapshot in self._db.get_all([ads.document(a) for a in campaign.ad_ids]):
            owner = (snapshot.to_dict() or {}).get("campaignId") if snapshot.exists else None
            if owner not in (None, campaign.id):
                raise CampaignFileError(f"ad {snapshot.id!r} already belongs to campaign {owner!r}")
        previous = self.get(campaign.id)
        removed = [a for a in (previous.ad_ids if previous else ()) if a not in campaign.ad_ids]
        batch = self._db.batch()
        batch.set(self._db.collection(CAMPAIGNS).document(campaign.id), {
            "name": campaign.name, "publisherId": campaign.publisher_id, "type": campaign.type,
            "skus": list(campaign.skus), "adIds": list(campaign.ad_ids),
            "updatedAt": datetime.now(timezone.utc),
        })
        for ad_id in campaign.ad_ids:
            batch.set(ads.document(ad_id), {"campaignId": campaign.id, "campaignType": campaign.type,
                                            "publisherId": campaign.publisher_id})
        for ad_id in removed:
            batch.delete(ads.document(ad_id))
        batch.commit()
        return removed

    def get(self, campaign_id: str) -> Campaign | None:
        snapshot = self._db.collection(CAMPAIGNS).document(campaign_id).get()
        return _campaign(snapshot.id, snapshot.to_dict() or {}) if snapshot.exists else None

    def get_many(self, campaign_ids: list[str]) -> dict[str, Campaign]:
        refs = [self._db.collection(CAMPAIGNS).document(c) for c in campaign_ids]
        return {s.id: _campaign(s.id, s.to_dict() or {}) for s in self._db.get_all(refs) if s.exists}

    def list(self) -> list[Campaign]:
        return sorted((_campaign(s.id, s.to_dict() or {}) for s in self._db.collection(CAMPAIGNS).stream()),
                      key=lambda c: c.id)

    def ad(self, ad_id: str) -> Ad | None:
        snapshot = self._db.collection(CAMPAIGN_ADS).document(ad_id).get()
        if not snapshot.exists:
            return None
        data = snapshot.to_dict() or {}
        return Ad(ad_id, data["campaignId"], data["campaignType"], data["publisherId"])


def _campaign(campaign_id: str, data: dict[str, Any]) -> Campaign:
    return Campaign(campaign_id, data.get("publisherId", ""), data.get("type", ""), tuple(data.get("skus", ())),
                    tuple(data.get("adIds", ())), data.get("name", ""))


class AdLookup:
    """Ad id -> Ad (or None), a found ad trusted for ``ttl_seconds`` per instance. A miss is never
    cached: an ad that ``campaigns apply`` just created must answer at once, not after the TTL
    (an unknown id costs one read per request, as distinct made-up ids would anyway). Bounded in
    size: the beacon is public."""

    def __init__(self, load: Callable[[str], Ad | None], ttl_seconds: float, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self._load = load
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, Ad]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, ad_id: str) -> Ad | None:
        if not ID_PATTERN.fullmatch(ad_id):
            return None
        now = self._clock()
        with self._lock:
            cached = self._cache.get(ad_id)
            if cached and now - cached[0] < self._ttl:
                self._cache.move_to_end(ad_id)
                return cached[1]
        ad = self._load(ad_id)
        with self._lock:
            if ad is None:
                self._cache.pop(ad_id, None)
                return None
            self._cache[ad_id] = (now, ad)
            self._cache.move_to_end(ad_id)
            while len(self._cache) > self._max:
                self._cache.popitem(last=False)
        return ad
