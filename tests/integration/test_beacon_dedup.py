"""Dedup against the real Firestore emulator: window edges with an injected clock, concurrent
identical beacons, an expired key that TTL has not deleted yet, and a conversion whose instance
died between its publish and its claim."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from shared.platform.publisher import EventPublisher, OutgoingMessage, PublishOutcome
from shared.retail_media.beacon import BeaconService, conversion_id_of
from shared.retail_media.dedup import COLLECTION, DedupStore, key_id
from tests.integration.beacon_support import (
    MovableClock,
    RecordingPublisher,
    counted,
    db,
    fresh_campaign,
    get_report,
    in_process_beacon,
    order,
    post_conversion,
    post_event,
    wait_for_conversion,
)
from tests.integration.beacon_support import send as send_to
from tests.conftest import poll

START = datetime(2026, 5, 4, 10, 0, tzinfo=timezone.utc)


@pytest.fixture()
def beacon(stack: dict[str, Any]) -> tuple[BeaconService, MovableClock, RecordingPublisher]:
    """The beacon's code in this process, on the stack's Firestore, with a clock the test moves."""
    clock, publisher = MovableClock(START), RecordingPublisher()
    return in_process_beacon(stack, clock, publisher), clock, publisher


def send(service: BeaconService, kind: str, ad_id: str, body: dict) -> int:
    return send_to(service, f"/v1/beacon/{kind}/{ad_id}", body).status


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


def test_a_duplicate_is_the_same_ad_seen_by_the_same_session_or_the_same_user(stack: dict[str, Any],
                                                                              beacon) -> None:
    service, clock, _ = beacon
    campaign = fresh_campaign(stack, "display")
    ad = campaign.ad_ids[0]
    send(service, "impression", ad, {"session_id": "s-1"})  # an anonymous visitor: counted
    send(service, "impression", ad, {"session_id": "s-1", "user_id": "u-1"})  # who logs in: same session
    send(service, "impression", ad, {"session_id": "s-2", "user_id": "u-1"})  # the same user on a phone
    send(service, "impression", ad, {"session_id": "s-1", "user_id": None})
    assert counted(stack, campaign.id, "impression") == 1
    send(service, "impression", ad, {"session_id": "s-3", "user_id": "u-2"})  # someone else: counted
    send(service, "impression", ad, {"session_id": "s-3"})  # their session, anonymous again
    send(service, "impression", ad, {"session_id": "s-4", "user_id": "u-2"})  # their user
    assert counted(stack, campaign.id, "impression") == 2
    # The user linked by a duplicate shares the window of the impression that counted, no longer.
    clock.now = START + timedelta(minutes=1)
    send(service, "impression", ad, {"session_id": "s-5", "user_id": "u-1"})
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
    clock = MovableClock(START)
    store = DedupStore(client, clock)
    assert store.claim([key], timedelta(seconds=1)).claimed
    clock.now = START + timedelta(seconds=5)
    with ThreadPoolExecutor(6) as pool:
        claims = list(pool.map(lambda _: store.claim([key], timedelta(seconds=1)).claimed, range(6)))
    assert claims.count(True) == 1


def test_ten_identical_impressions_sent_at_once_count_once(stack: dict[str, Any]) -> None:
    campaign = fresh_campaign(stack, "video")
    body = {"session_id": "s-burst", "user_id": "u-burst"}
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda _: post_event(stack, "impression", campaign.ad_ids[0], body), range(10)))
    assert [a.status_code for a in answers] == [202] * 10
    assert counted(stack, campaign.id, "impression") == 1


def test_a_conversion_resent_within_30_days_is_ignored_then_published_again_as_itself(stack: dict[str, Any],
                                                                                      beacon) -> None:
    service, clock, publisher = beacon
    campaign = fresh_campaign(stack, "product")
    body = {"channel": "app", "publisher_id": campaign.publisher_id, "user_id": "u", "session_id": "s",
            "order_id": f"order-{campaign.id}", "email_hashed": "0" * 64, "created_at": "2026-05-04T09:00:00Z",
            "items": [{"sku": "SKU-001", "quantity": 1, "price": 10, "promotional_price": 9}]}

    def post() -> int:
        return send_to(service, "/v1/beacon/conversion", body).status

    assert post() == 202
    clock.now = START + timedelta(days=30) - timedelta(seconds=1)
    assert post() == 202
    assert len(publisher.messages) == 1
    clock.now = START + timedelta(days=30)
    assert post() == 202
    assert len(publisher.messages) == 2
    # The same order: the same conversionId, which attribution records once.
    ids = [m["conversionId"] for m in publisher.messages]
    assert ids[0] == ids[1]


def test_a_conversion_that_could_not_be_queued_can_be_sent_again(stack: dict[str, Any], beacon) -> None:
    service, clock, publisher = beacon
    failing = in_process_beacon(stack, clock, lambda messages: [PublishOutcome(error="down")] * len(messages))
    body = {"channel": "app", "publisher_id": "p", "user_id": "u", "session_id": "s", "order_id": "o-retry-"
            + datetime.now(timezone.utc).isoformat(), "email_hashed": "0" * 64,
            "created_at": "2026-05-04T09:00:00Z",
            "items": [{"sku": "SKU-001", "quantity": 1, "price": 10, "promotional_price": 9}]}
    answer = send_to(failing, "/v1/beacon/conversion", body)
    assert answer.status == 503 and answer.body == {"messages": ["the conversion could not be queued; send it again"]}
    assert send_to(service, "/v1/beacon/conversion", body).status == 202
    assert len(publisher.messages) == 1


class _InstanceDied(BaseException):
    """The instance ended here: nothing after this point ran (not an Exception: no handler sees it)."""


def _attribution_outcomes(stack: dict[str, Any], conversion_id: str) -> list[str]:
    """What the running attribution function logged about ``conversion_id``, in order."""
    lines = (Path(stack["logs"]) / "function-attribution.log").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{") and conversion_id in line]
    return [r["message"] for r in records if r.get("conversionId") == conversion_id]


@pytest.mark.parametrize("published_before_dying", [True, False], ids=["after-publish", "before-publish"])
def test_an_instance_dying_while_queueing_a_conversion_loses_nothing_and_the_resend_counts_once(
        stack: dict[str, Any], published_before_dying: bool) -> None:
    campaign = fresh_campaign(stack, "product", skus=("SKU-G",))
    session = f"s-{campaign.id}"
    assert post_event(stack, "click", campaign.ad_ids[0], {"session_id": session}).status_code == 202
    body = order(campaign, ("SKU-G", 2, 5.0), session=session)
    conversions = EventPublisher(stack["project_id"], "conversions", 10)

    def publish_then_die(messages: list[OutgoingMessage]) -> list[PublishOutcome]:
        if published_before_dying:
            assert all(outcome.published for outcome in conversions.publish_many(messages))
        raise _InstanceDied

    # The beacon's code on the stack's emulators, dying before (or just after) its publish.
    dying = in_process_beacon(stack, MovableClock(datetime.now(timezone.utc)), publish_then_die)
    with pytest.raises(_InstanceDied):
        send_to(dying, "/v1/beacon/conversion", body)
    # The client got no answer and sends the order again, to the running beacon.
    assert post_conversion(stack, body).status_code == 202

    conversion_id = conversion_id_of(body)

    expected = ["conversion already attributed: unchanged", "conversion attributed"] if published_before_dying \
        else ["conversion attributed"]

    def every_publication_processed() -> list[str] | None:
        outcomes = _attribution_outcomes(stack, conversion_id)
        return sorted(outcomes) if len(outcomes) >= len(expected) else None

    assert poll(every_publication_processed, timeout=60, what="the attribution of every publication") == expected
    report = get_report(stack, campaign.id).json()
    assert (report["totals"]["conversions"], report["totals"]["attributed_revenue"]) == (1, 10.0)
    assert wait_for_conversion(stack, body)["attributed"] is True


def test_an_instance_remembers_the_keys_it_saw_held_until_they_expire_and_no_longer(stack: dict[str, Any]) -> None:
    client = db(stack)
    key = key_id("test", "remembered", datetime.now(timezone.utc).isoformat())
    reference = client.collection(COLLECTION).document(key)
    clock = MovableClock(START)
    first, second = DedupStore(client, clock), DedupStore(client, clock)
    assert first.claim([key], timedelta(minutes=1)).claimed
    assert not second.claim([key], timedelta(minutes=1)).claimed  # read from Firestore, and remembered
    reference.delete()  # neither instance reads it again while its claim lasts
    for store in (first, second):
        assert not store.claim([key], timedelta(minutes=1)).claimed
        assert store.holder(key) is not None
    assert not reference.get().exists, "a remembered duplicate wrote nothing"
    assert DedupStore(client, clock).claim([key], timedelta(minutes=1)).claimed, "a new instance asks Firestore"
    reference.delete()
    clock.now = START + timedelta(minutes=1)  # the remembered claim's expireAt: forgotten
    assert first.claim([key], timedelta(minutes=1)).claimed
    assert reference.get().to_dict()["expireAt"] == clock.now + timedelta(minutes=1)


def test_an_event_with_a_key_not_remembered_asks_firestore_and_links_it(stack: dict[str, Any]) -> None:
    client = db(stack)
    stamp = datetime.now(timezone.utc).isoformat()
    session, user = key_id("test", "link", "session", stamp), key_id("test", "link", "user", stamp)
    store = DedupStore(client, MovableClock(START))
    assert store.claim([session], timedelta(minutes=1)).claimed
    assert not store.claim([session, user], timedelta(minutes=1)).claimed
    linked = client.collection(COLLECTION).document(user).get()
    assert linked.exists and linked.to_dict()["expireAt"] == START + timedelta(minutes=1)
