"""Attribution end to end: beacons and a conversion over HTTP, topic "conversions", the push
subscription, the attribution function, and the stored result, polled with a deadline. Window
edges run the same code in-process with an injected clock against the same emulator."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from google.cloud import firestore

from shared.platform.publisher import OutgoingMessage, PublishOutcome
from shared.retail_media.attribution import (
    ATTRIBUTIONS,
    CONVERSIONS,
    AttributionService,
    Window,
)
from shared.retail_media.beacon import BeaconService
from shared.retail_media.campaigns import AdLookup, CampaignStore
from shared.retail_media.settings import BeaconSettings
from tests.conftest import poll
from tests.integration.beacon_support import (
    db,
    fresh_campaign,
    order,
    post_conversion,
    post_event,
)
from tests.support.http import http_request

WINDOW = timedelta(days=14)


def conversion_record(stack: dict[str, Any], publisher_id: str, order_id: str) -> dict[str, Any] | None:
    query = (db(stack).collection(CONVERSIONS).where(filter=firestore.FieldFilter("publisherId", "==", publisher_id))
             .where(filter=firestore.FieldFilter("orderId", "==", order_id)))
    found = [s.to_dict() for s in query.stream()]
    assert len(found) <= 1
    return found[0] if found else None


def wait_for_conversion(stack: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    return poll(lambda: conversion_record(stack, body["publisher_id"], body["order_id"]), timeout=30,
                what=f"attribution of order {body['order_id']}")


def test_scenario_1_match_conversion_attributed(stack: dict[str, Any]) -> None:
    campaign_a = fresh_campaign(stack, "product", skus=("SKU-001", "SKU-002", "SKU-003"))
    beacon = {"user_id": "user-A", "session_id": "session-A"}
    for kind in ("impression", "view", "click"):
        assert post_event(stack, kind, campaign_a.ad_ids[0], beacon).status_code == 202
    body = order(campaign_a, ("SKU-002", 2, 400.0), ("SKU-999", 1, 50.0), user="user-A", session="session-B")
    assert post_conversion(stack, body).status_code == 202
    record = wait_for_conversion(stack, body)
    assert record["attributed"] is True
    assert record["campaigns"] == [{"campaignId": campaign_a.id, "revenueMicros": 800_000_000,
                                    "matchedSkus": ["SKU-002"]}]
    attribution = db(stack).collection(ATTRIBUTIONS).where(
        filter=firestore.FieldFilter("campaignId", "==", campaign_a.id)).get()
    assert [a.to_dict()["touchpoint"]["kind"] for a in attribution] == ["click"]


def test_scenario_2_no_match_conversion_not_attributed(stack: dict[str, Any]) -> None:
    campaign_b = fresh_campaign(stack, "display", skus=("SKU-004", "SKU-005"))
    beacon = {"user_id": "user-B", "session_id": "session-B"}
    assert post_event(stack, "view", campaign_b.ad_ids[0], beacon).status_code == 202
    body = order(campaign_b, ("SKU-999", 1, 10.0), user="user-B", session="session-B")
    assert post_conversion(stack, body).status_code == 202
    record = wait_for_conversion(stack, body)
    assert record["attributed"] is False and record["campaigns"] == []
    assert not db(stack).collection(ATTRIBUTIONS).where(
        filter=firestore.FieldFilter("campaignId", "==", campaign_b.id)).get()


def test_a_view_attributes_display_ads_not_product_ads(stack: dict[str, Any]) -> None:
    product = fresh_campaign(stack, "product", skus=("SKU-P",))
    video = fresh_campaign(stack, "video", skus=("SKU-V",), publisher_id=product.publisher_id)
    beacon = {"user_id": "user-V", "session_id": "session-V"}
    post_event(stack, "view", product.ad_ids[0], beacon)
    post_event(stack, "view", video.ad_ids[0], beacon)
    body = order(product, ("SKU-P", 1, 10.0), ("SKU-V", 3, 1.5), user="user-V", session="session-V")
    assert post_conversion(stack, body).status_code == 202
    record = wait_for_conversion(stack, body)
    assert [c["campaignId"] for c in record["campaigns"]] == [video.id]
    assert record["campaigns"][0]["revenueMicros"] == 4_500_000


def test_an_order_resent_is_attributed_once(stack: dict[str, Any]) -> None:
    campaign = fresh_campaign(stack, "product", skus=("SKU-R",))
    post_event(stack, "click", campaign.ad_ids[0], {"session_id": "session-R"})
    body = order(campaign, ("SKU-R", 1, 99.0), session="session-R")
    answers = [post_conversion(stack, body) for _ in range(3)]
    assert [a.status_code for a in answers] == [202] * 3
    assert all(a.json() == {"messages": ["conversion will be processed soon"]} for a in answers)
    wait_for_conversion(stack, body)
    attributions = poll(lambda: db(stack).collection(ATTRIBUTIONS).where(
        filter=firestore.FieldFilter("campaignId", "==", campaign.id)).get(), what="the attribution")
    assert len(attributions) == 1


# -- window edges, in-process with an injected clock ---------------------------------------------

class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Captured:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def __call__(self, messages: list[OutgoingMessage]) -> list[PublishOutcome]:
        self.messages.extend(json.loads(m.data) for m in messages)
        return [PublishOutcome(message_id="1")] * len(messages)


@pytest.mark.parametrize("kind,campaign_type,after,attributed", [
    ("click", "product", WINDOW, True),
    ("click", "product", WINDOW + timedelta(seconds=1), False),
    ("view", "display", WINDOW, True),
    ("view", "display", WINDOW + timedelta(seconds=1), False),
    ("view", "product", timedelta(days=1), False),
    ("click", "video", timedelta(days=1), False),
])
def test_day_14_edge_and_click_vs_view(stack: dict[str, Any], kind: str, campaign_type: str, after: timedelta,
                                       attributed: bool) -> None:
    client = db(stack)
    touched_at = datetime(2026, 1, 10, 8, 30, tzinfo=timezone.utc)
    clock, captured = Clock(touched_at), Captured()
    campaign = fresh_campaign(stack, campaign_type, skus=("SKU-E",))
    beacon = BeaconService(BeaconSettings.from_env(), client, AdLookup(CampaignStore(client).ad, 0), captured,
                           clock, touchpoint_ttl=WINDOW + timedelta(days=1))
    beacon.api.answer(http_request("POST", f"/v1/beacon/{kind}/{campaign.ad_ids[0]}", b'{"session_id": "s-edge"}', {}))
    clock.now = touched_at + after
    body = order(campaign, ("SKU-E", 1, 5.0), session="s-edge", created_at=clock.now)
    assert beacon.api.answer(http_request("POST", "/v1/beacon/conversion", json.dumps(body).encode(), {})).status == 202
    clock.now += timedelta(seconds=2)  # processed a little after the order
    attribution = AttributionService(client, CampaignStore(client), Window(WINDOW, timedelta(minutes=5)), clock)
    result = attribution.process(captured.messages[0])
    assert [a.campaign_id for a in result] == ([campaign.id] if attributed else [])
