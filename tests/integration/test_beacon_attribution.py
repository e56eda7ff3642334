"""Attribution end to end: beacons and a conversion over HTTP, topic "conversions", the push
subscription, the attribution function, and the stored result, polled with a deadline. Window
edges run the same code in-process with an injected clock against the same emulator."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest
from google.cloud import firestore

from shared.retail_media.attribution import (
    ATTRIBUTIONS,
    AttributionService,
    Window,
)
from shared.platform.publisher import EventPublisher, OutgoingMessage
from shared.retail_media.beacon import conversion_id_of
from shared.retail_media.campaigns import CampaignStore
from tests.conftest import poll
from tools.admin_commands.deadletters import DeadLetter, hold_subscriptions
from tests.integration.beacon_support import (
    MovableClock,
    RecordingPublisher,
    counted,
    db,
    fresh_campaign,
    in_process_beacon,
    order,
    post_conversion,
    post_event,
    send,
    wait_for_conversion,
)

WINDOW = timedelta(days=14)


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


def test_a_click_on_a_display_ad_attributes_like_a_view(stack: dict[str, Any]) -> None:
    # A publisher that does not measure viewability (views are optional in the spec) sends clicks.
    display = fresh_campaign(stack, "display", skus=("SKU-D",))
    assert post_event(stack, "click", display.ad_ids[0], {"session_id": "session-D"}).status_code == 202
    body = order(display, ("SKU-D", 1, 30.0), session="session-D")
    assert post_conversion(stack, body).status_code == 202
    record = wait_for_conversion(stack, body)
    assert record["campaigns"] == [{"campaignId": display.id, "revenueMicros": 30_000_000, "matchedSkus": ["SKU-D"]}]


def test_a_duplicate_click_that_brings_the_user_id_still_attributes_that_users_order(stack: dict[str, Any]) -> None:
    campaign = fresh_campaign(stack, "product", skus=("SKU-U",))
    assert post_event(stack, "click", campaign.ad_ids[0], {"session_id": "session-U1"}).status_code == 202
    # Logged in, same session, within the hour: a duplicate click, counted once...
    logged_in = {"session_id": "session-U1", "user_id": "user-U"}
    assert post_event(stack, "click", campaign.ad_ids[0], logged_in).status_code == 202
    assert counted(stack, campaign.id, "click") == 1
    # ...but the user buys on another device: their click still attributes the order.
    body = order(campaign, ("SKU-U", 1, 7.0), user="user-U", session="session-U2")
    assert post_conversion(stack, body).status_code == 202
    assert [c["campaignId"] for c in wait_for_conversion(stack, body)["campaigns"]] == [campaign.id]


def test_a_sale_of_a_shared_sku_is_credited_once_to_the_campaign_touched_last(stack: dict[str, Any]) -> None:
    earlier = fresh_campaign(stack, "product", skus=("SKU-S", "SKU-F"))
    later = fresh_campaign(stack, "video", skus=("SKU-S",), publisher_id=earlier.publisher_id)
    visitor = {"user_id": "user-S", "session_id": "session-S"}
    assert post_event(stack, "click", earlier.ad_ids[0], visitor).status_code == 202
    assert post_event(stack, "view", later.ad_ids[0], visitor).status_code == 202
    body = order(earlier, ("SKU-S", 2, 100.0), ("SKU-F", 1, 10.0), user="user-S", session="session-S")
    assert post_conversion(stack, body).status_code == 202
    record = wait_for_conversion(stack, body)
    assert sorted(record["campaigns"], key=lambda c: c["matchedSkus"]) == [
        {"campaignId": earlier.id, "revenueMicros": 10_000_000, "matchedSkus": ["SKU-F"]},
        {"campaignId": later.id, "revenueMicros": 200_000_000, "matchedSkus": ["SKU-S"]},
    ]
    assert record["revenueMicros"] == 210_000_000 == sum(c["revenueMicros"] for c in record["campaigns"])


# -- window edges, in-process with an injected clock ---------------------------------------------

@pytest.mark.parametrize("kind,campaign_type,after,attributed", [
    ("click", "product", WINDOW, True),
    ("click", "product", WINDOW + timedelta(seconds=1), False),
    ("view", "display", WINDOW, True),
    ("view", "display", WINDOW + timedelta(seconds=1), False),
    ("view", "product", timedelta(days=1), False),
    ("click", "video", timedelta(days=1), True),  # a click on a display/video ad counts as a view
    ("click", "display", WINDOW, True),
])
def test_day_14_edge_and_click_vs_view(stack: dict[str, Any], kind: str, campaign_type: str, after: timedelta,
                                       attributed: bool) -> None:
    client = db(stack)
    touched_at = datetime(2026, 1, 10, 8, 30, tzinfo=timezone.utc)
    clock, captured = MovableClock(touched_at), RecordingPublisher()
    campaign = fresh_campaign(stack, campaign_type, skus=("SKU-E",))
    beacon = in_process_beacon(stack, clock, captured)
    assert send(beacon, f"/v1/beacon/{kind}/{campaign.ad_ids[0]}", {"session_id": "s-edge"}).status == 202
    clock.now = touched_at + after
    body = order(campaign, ("SKU-E", 1, 5.0), session="s-edge", created_at=clock.now)
    assert send(beacon, "/v1/beacon/conversion", body).status == 202
    clock.now += timedelta(seconds=2)  # processed a little after the order
    attribution = AttributionService(client, CampaignStore(client), Window(WINDOW, timedelta(minutes=5)), clock)
    result = attribution.process(captured.messages[0])
    assert [a.campaign_id for a in result] == ([campaign.id] if attributed else [])


def attribution_dead_letters(matching: Callable[[DeadLetter], bool]) -> list[DeadLetter]:
    """attribution's dead letters that ``matching`` picks, read and released (they stay there)."""
    found = []
    for hold in hold_subscriptions("attribution"):
        try:
            found += [letter for letter in hold.pull_all() if matching(letter)]
        finally:
            hold.release()
    return found

@pytest.mark.parametrize("data", [b"not json", b'{"conversionId": "c-1", "conversion": {"order_id": 7}}'],
                         ids=["not-json", "invalid-conversion"])
def test_a_message_that_is_not_a_conversion_is_held_in_the_dead_letters_with_why(stack: dict[str, Any],
                                                                                 data: bytes) -> None:
    """Whatever reaches topic "conversions" ends somewhere an operator sees it: never dropped."""
    marker = f"not-a-conversion-{datetime.now(timezone.utc).timestamp()}"
    outcome = EventPublisher(stack["project_id"], "conversions", 10).publish_many(
        [OutgoingMessage(data, {"testMarker": marker})])[0]
    assert outcome.published

    letter, = poll(lambda: attribution_dead_letters(lambda letter: letter.attributes.get("testMarker") == marker),
                   timeout=30, interval=0.5, what="the message in attribution's dead letters")
    assert letter.message.data == data
    assert letter.reason == "malformed" and letter.attributes["deadLetterSource"] == "attribution"
    assert letter.detail.startswith("not a conversion message: ")


def test_a_conversion_whose_revenue_firestore_cannot_store_is_held_at_once_with_why(stack: dict[str, Any]) -> None:
    """Accepted by the beacon (the schema bounds no price), then held by attribution, not retried."""
    campaign = fresh_campaign(stack, "product", skus=("SKU-HUGE",))
    body = order(campaign, ("SKU-HUGE", 2, 1e300))
    assert post_conversion(stack, body).status_code == 202
    conversion_id = conversion_id_of(body)

    letter, = poll(lambda: attribution_dead_letters(lambda held: held.attributes.get("conversionId") == conversion_id),
                   timeout=30, interval=0.5, what="the conversion in attribution's dead letters")
    assert letter.reason == "undeliverable_value"
    assert "beyond the 64-bit integers Firestore stores" in letter.detail
    assert json.loads(letter.message.data)["conversionId"] == conversion_id
