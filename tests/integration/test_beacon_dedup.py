"""Dedup against the real Firestore emulator: window edges with an injected clock, concurrent
identical beacons, and an expired key that TTL has not deleted yet."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from shared.platform.publisher import OutgoingMessage, PublishOutcome
from shared.retail_media.beacon import BeaconService
from shared.retail_media.campaigns import AdLookup, CampaignStore
from shared.retail_media.dedup import COLLECTION, DedupStore, key_id
from shared.retail_media.settings import BeaconSettings
from tests.integration.beacon_support import counted, db, fresh_campaign, post_event
from tests.support.http import http_request

START = datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class RecordingPublisher:
    def __init__(self) -> None:
        self.messages: list[OutgoingMessage] = []

    def __call__(self, messages: list[OutgoingMessage]) -> list[PublishOutcome]:
        self.messages.extend(messages)
        return [PublishOutcome(message_id=str(len(self.messages)))] * len(messages)


@pytest.fixture()
def beacon(stack: dict[str, Any]) -> tuple[BeaconService, Clock, RecordingPublisher]:
    """The beacon's code in this process, on the stack's Firestore, with a clock the test moves."""
    clock, publisher, client = Clock(), RecordingPublisher(), db(stack)
    settings = replace(BeaconSettings.from_env(), allowed_origins=frozenset())
    service = BeaconService(settings, client, AdLookup(CampaignStore(client).ad, 0), publisher, clock,
                            touchpoint_ttl=timedelta(days=15))
    return service, clock, publisher


def send(service: BeaconService, kind: str, ad_id: str, body: dict) -> int:
    answer = service.api.answer(http_request("POST", f"/v1/beacon/{kind}/{ad_id}", json.dumps(body).encode(), {"Content-Type": "application/json"}))
    return answer.status


@pytest.mark.parametrize("kind,window", [("impression", timedelta(minutes=1)), ("view", timedelta(minutes=1)),
                                         ("click", timedelta(hours=1))])
def test_window_edges(stack: dict[str, Any], beacon, kind: str, window: timedelta) -> None:
    service, clock, _ = beacon
    campaign = fresh_campaign(stack, "product")
    ad = campaign.ad_ids[0]
    user = {"session_id": "s-1", "user_id": "u-1"}
    assert send(service, kind, ad, user) == 202
    clock.now = START + window - timedelta(microseconds=1)
    assert send(service, kind, ad, user) == 202  # duplicate: accepted, not counted
    assert counted(stack, campaign.id, kind) == 1
    clock.now = START + window  # the key's expireAt: expired from this instant on
    assert send(service, kind, ad, user) == 202
    assert counted(stack, campaign.id, kind) == 2
    clock.now = START + window + window - timedelta(seconds=1)
    assert send(service, kind, ad, user) == 202
    assert counted(stack, campaign.id, kind) == 2


def test_identity_is_user_id_else_session_id(stack: dict[str, Any], beacon) -> None:
    service, _, _ = beacon
    campaign = fresh_campaign(stack, "display")
    ad = campaign.ad_ids[0]
    send(service, "impression", ad, {"session_id": "s-1", "user_id": "u-1"})
    send(service, "impression", ad, {"session_id": "s-2", "user_id": "u-1"})  # same user, other session
    send(service, "impression", ad, {"session_id": "s-1"})  # same session, anonymous: another identity
    send(service, "impression", ad, {"session_id": "s-1", "user_id": None})
    send(service, "impression", ad, {"session_id": "s-3"})
    assert counted(stack, campaign.id, "impression") == 3


def test_kinds_and_ads_are_deduplicated_separately(stack: dict[str, Any], beacon) -> None:
    service, _, _ = beacon
    campaign = fresh_campaign(stack, "product", ads=2)
    for ad in campaign.ad_ids:
        for kind in ("impression", "view", "click"):
            send(service, kind, ad, {"session_id": "s-1"})
    assert [counted(stack, campaign.id, k) for k in ("impression", "view", "click")] == [2, 2, 2]


def test_an_expired_key_not_yet_deleted_is_taken_over(stack: dict[str, Any], beacon) -> None:
    service, clock, _ = beacon
    campaign = fresh_campaign(stack, "product")
    ad = campaign.ad_ids[0]
    send(service, "click", ad, {"session_id": "s-1"})
    reference = db(stack).collection(COLLECTION).document(key_id("click", ad, "session:s-1"))
    first = reference.get().to_dict()
    assert first["expireAt"] == START + timedelta(hours=1)
    clock.now = START + timedelta(days=3)  # TTL would have deleted it by now; the emulator never does
    assert reference.get().exists
    send(service, "click", ad, {"session_id": "s-1"})
    second = reference.get().to_dict()
    assert second["claimId"] != first["claimId"]
    assert second["expireAt"] == clock.now + timedelta(hours=1)
    assert counted(stack, campaign.id, "click") == 2


def test_concurrent_takeovers_of_one_expired_key_count_once(stack: dict[str, Any]) -> None:
    client = db(stack)
    key = key_id("test", "takeover", datetime.now(timezone.utc).isoformat())
    clock = Clock()
    store = DedupStore(client, clock)
    assert store.claim(key, timedelta(seconds=1)).claimed
    clock.now = START + timedelta(seconds=5)
    with ThreadPoolExecutor(6) as pool:
        claims = list(pool.map(lambda _: store.claim(key, timedelta(seconds=1)).claimed, range(6)))
    assert claims.count(True) == 1


def test_ten_identical_impressions_sent_at_once_count_once(stack: dict[str, Any]) -> None:
    campaign = fresh_campaign(stack, "video")
    body = {"session_id": "s-burst", "user_id": "u-burst"}
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: post_event(stack, "impression", campaign.ad_ids[0], body), range(10)))
    assert [a.status_code for a in answers] == [202] * 10
    assert counted(stack, campaign.id, "impression") == 1


def test_a_conversion_resent_within_30_days_is_ignored_then_accepted_again(stack: dict[str, Any], beacon) -> None:
    service, clock, publisher = beacon
    campaign = fresh_campaign(stack, "product")
    body = {"channel": "app", "publisher_id": campaign.publisher_id, "user_id": "u", "session_id": "s",
            "order_id": f"order-{campaign.id}", "email_hashed": "0" * 64, "created_at": "2026-05-04T09:00:00Z",
            "items": [{"sku": "SKU-001", "quantity": 1, "price": 10, "promotional_price": 9}]}

    def post() -> int:
        return service.api.answer(http_request("POST", "/v1/beacon/conversion", json.dumps(body).encode(), {})).status

    assert post() == 202
    clock.now = START + timedelta(days=30) - timedelta(seconds=1)
    assert post() == 202
    assert len(publisher.messages) == 1
    clock.now = START + timedelta(days=30)
    assert post() == 202
    assert len(publisher.messages) == 2
    ids = [json.loads(m.data)["conversionId"] for m in publisher.messages]
    assert ids[0] != ids[1]


def test_a_conversion_that_could_not_be_queued_can_be_sent_again(stack: dict[str, Any], beacon) -> None:
    service, clock, publisher = beacon
    failing = BeaconService(BeaconSettings.from_env(), db(stack), lambda _: None,
                            lambda messages: [PublishOutcome(error="down")] * len(messages), clock,
                            timedelta(days=15))
    body = {"channel": "app", "publisher_id": "p", "user_id": "u", "session_id": "s", "order_id": "o-retry-"
            + datetime.now(timezone.utc).isoformat(), "email_hashed": "0" * 64,
            "created_at": "2026-05-04T09:00:00Z",
            "items": [{"sku": "SKU-001", "quantity": 1, "price": 10, "promotional_price": 9}]}
    answer = failing.api.answer(http_request("POST", "/v1/beacon/conversion", json.dumps(body).encode(), {}))
    assert answer.status == 503 and answer.body == {"messages": ["the conversion could not be queued; send it again"]}
    assert service.api.answer(http_request("POST", "/v1/beacon/conversion", json.dumps(body).encode(), {})).status == 202
    assert len(publisher.messages) == 1
