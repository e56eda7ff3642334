"""Helpers for the beacon integration tests: fresh campaigns, requests, and counts read back."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import requests
from google.cloud import firestore

from shared.platform.http import Answer
from shared.platform.publisher import OutgoingMessage, PublishOutcome
from shared.retail_media.attribution import CONVERSIONS
from shared.retail_media.beacon import AD_EVENTS, BeaconService
from shared.retail_media.campaigns import AdLookup, Campaign, CampaignStore
from shared.retail_media.settings import AttributionSettings, BeaconSettings
from tests.conftest import poll
from tests.support.http import http_request

EMAIL_HASH = hashlib.sha256(b"buyer@example.com").hexdigest()


def db(stack: dict[str, Any]) -> firestore.Client:
    # The stack exported FIRESTORE_EMULATOR_HOST into this process.
    return firestore.Client(project=stack["project_id"])


def fresh_campaign(stack: dict[str, Any], campaign_type: str, skus: tuple[str, ...] = ("SKU-001", "SKU-002"),
                   ads: int = 1, publisher_id: str | None = None) -> Campaign:
    """A campaign of its own for one test (other tests share the emulators)."""
    suffix = uuid.uuid4().hex[:10]
    campaign = Campaign(f"c-{campaign_type}-{suffix}", publisher_id or f"pub-{suffix}", campaign_type, skus,
                        tuple(f"ad-{campaign_type}-{suffix}-{n}" for n in range(ads)), "test campaign")
    CampaignStore(db(stack)).apply(campaign)
    return campaign


def post_event(stack: dict[str, Any], kind: str, ad_id: str, body: Any = None, *, data: bytes | None = None,
               headers: dict[str, str] | None = None) -> requests.Response:
    url = f"{stack['functions']['beacon']}/v1/beacon/{kind}/{ad_id}"
    if data is None:
        return requests.post(url, json=body, headers=headers, timeout=30)
    return requests.post(url, data=data, headers=headers, timeout=30)


def get_report(stack: dict[str, Any], campaign_id: str, key: str | None = None, **params: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {key or stack['dev_api_key']}"}
    return requests.get(f"{stack['functions']['reports']}/v1/reports/campaigns/{campaign_id}", params=params,
                        headers=headers, timeout=30)


def post_conversion(stack: dict[str, Any], body: Any = None, *, data: bytes | None = None) -> requests.Response:
    """``body`` as JSON, or ``data`` as sent (text/plain, as sendBeacon sends a string)."""
    url = f"{stack['functions']['beacon']}/v1/beacon/conversion"
    if data is None:
        return requests.post(url, json=body, timeout=30)
    return requests.post(url, data=data, headers={"Content-Type": "text/plain"}, timeout=30)


def order(campaign: Campaign, *items: tuple[str, float, float], user: str = "user-1", session: str = "session-1",
          order_id: str | None = None, created_at: datetime | None = None) -> dict[str, Any]:
    """A valid conversion of ``campaign``'s publisher with items (sku, quantity, promotional price)."""
    moment = created_at or datetime.now(timezone.utc)
    return {
        "channel": "ecommerce", "publisher_id": campaign.publisher_id, "user_id": user, "session_id": session,
        "order_id": order_id or uuid.uuid4().hex, "email_hashed": EMAIL_HASH,
        "items": [{"sku": sku, "seller_id": None, "product_id": None, "quantity": quantity,
                   "price": price + 100, "promotional_price": price} for sku, quantity, price in items],
        "created_at": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }


def counted(stack: dict[str, Any], campaign_id: str, kind: str) -> int:
    query = (db(stack).collection(AD_EVENTS).where(filter=firestore.FieldFilter("campaignId", "==", campaign_id))
             .where(filter=firestore.FieldFilter("kind", "==", kind)))
    return int(query.count(alias="n").get()[0][0].value)


class MovableClock:
    """A clock the test sets: ``clock.now = ...``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class RecordingPublisher:
    """Publishes nothing: keeps what the beacon would have put on topic "conversions"."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def __call__(self, messages: list[OutgoingMessage]) -> list[PublishOutcome]:
        self.messages.extend(json.loads(m.data) for m in messages)
        return [PublishOutcome(message_id=str(len(self.messages)))] * len(messages)


def in_process_beacon(stack: dict[str, Any], clock: MovableClock, publish: Any = None) -> BeaconService:
    """The beacon's code in this process, on the stack's Firestore, with the test's clock (and
    no ad cache, no allowed browser origin)."""
    client = db(stack)
    settings = replace(BeaconSettings.from_env(), allowed_origins=frozenset())
    return BeaconService(settings, client, AdLookup(CampaignStore(client).ad, 0), publish or RecordingPublisher(),
                         clock, AttributionSettings.from_env())


def send(beacon: BeaconService, path: str, body: Any) -> Answer:
    return beacon.api.answer(http_request("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"}))


def conversion_record(stack: dict[str, Any], publisher_id: str, order_id: str) -> dict[str, Any] | None:
    query = (db(stack).collection(CONVERSIONS).where(filter=firestore.FieldFilter("publisherId", "==", publisher_id))
             .where(filter=firestore.FieldFilter("orderId", "==", order_id)))
    found = [s.to_dict() for s in query.stream()]
    assert len(found) <= 1
    return found[0] if found else None


def wait_for_conversion(stack: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return poll(lambda: conversion_record(stack, body["publisher_id"], body["order_id"]), timeout=30,
                what=f"attribution of order {body['order_id']}")
