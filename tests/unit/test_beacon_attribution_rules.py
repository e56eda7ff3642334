"""The attribution rule on its own: windows, edges, the product match, last touch per item,
revenue."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from shared.retail_media.attribution import (
    Touchpoint,
    Window,
    attribute,
    parse_created_at,
)
from shared.retail_media.campaigns import Campaign
from shared.retail_media.conversion import revenue_micros

ORDER_AT = datetime(2026, 3, 20, 12, 0, tzinfo=timezone.utc)
WINDOW = timedelta(days=14)
SKEW = timedelta(minutes=5)
TOUCHPOINT_TTL = WINDOW + timedelta(days=1)
CAMPAIGNS = {
    "A": Campaign("A", "pub", "product", ("SKU-001", "SKU-002", "SKU-003"), ("ad-a",)),
    "B": Campaign("B", "pub", "display", ("SKU-004", "SKU-005"), ("ad-b",)),
    "V": Campaign("V", "pub", "video", ("SKU-002",), ("ad-v",)),
}


def conversion(*skus: str, user: str = "u1", session: str = "s-order") -> dict:
    return {"publisher_id": "pub", "user_id": user, "session_id": session, "order_id": "o1",
            "items": [{"sku": s, "quantity": 2, "price": 10.0, "promotional_price": 9.9} for s in skus]}


def touch(campaign: str, kind: str, at: datetime = ORDER_AT - timedelta(days=1), user: str | None = "u1",
          session: str = "s-ad", publisher: str = "pub") -> Touchpoint:
    return Touchpoint(campaign, CAMPAIGNS[campaign].type, publisher, f"ad-{campaign.lower()}", kind, user, session,
                      at, at + TOUCHPOINT_TTL)


def attributed(order: dict, *touchpoints: Touchpoint, now: datetime = ORDER_AT) -> dict[str, int]:
    result = attribute(order, ORDER_AT, touchpoints, CAMPAIGNS, Window(WINDOW, SKEW), now)
    return {a.campaign_id: a.revenue_micros for a in result}


def test_spec_scenario_1_viewed_campaign_a_bought_sku_002() -> None:
    # Campaign A is a product campaign, so its touch is a click.
    assert attributed(conversion("SKU-002"), touch("A", "click")) == {"A": 19_800_000}


def test_spec_scenario_2_viewed_campaign_b_bought_sku_999() -> None:
    assert attributed(conversion("SKU-999"), touch("B", "view")) == {}


def test_product_ads_need_a_click_display_and_video_a_view_or_a_click() -> None:
    assert attributed(conversion("SKU-001"), touch("A", "view")) == {}
    assert attributed(conversion("SKU-004"), touch("B", "view")) == {"B": 19_800_000}
    assert attributed(conversion("SKU-002"), touch("V", "view")) == {"V": 19_800_000}
    # A publisher that does not measure views (optional in the spec) still attributes by clicks.
    assert attributed(conversion("SKU-004"), touch("B", "click")) == {"B": 19_800_000}
    assert attributed(conversion("SKU-002"), touch("V", "click")) == {"V": 19_800_000}
    assert attributed(conversion("SKU-004"), touch("B", "impression")) == {}


@pytest.mark.parametrize("before,counts", [
    (timedelta(days=14), True),
    (timedelta(days=14, microseconds=1), False),
    (timedelta(0), True),
    (-SKEW, True),  # after the order, within the clock difference allowed
    (-SKEW - timedelta(microseconds=1), False),
])
def test_window_edges_day_14_included(before: timedelta, counts: bool) -> None:
    touchpoint = touch("A", "click", at=ORDER_AT - before)
    assert bool(attributed(conversion("SKU-001"), touchpoint)) is counts


def test_same_user_or_same_session() -> None:
    assert attributed(conversion("SKU-001"), touch("A", "click", user=None, session="s-order")) != {}
    assert attributed(conversion("SKU-001"), touch("A", "click", user="u1", session="other")) != {}
    assert attributed(conversion("SKU-001"), touch("A", "click", user="u2", session="other")) == {}
    assert attributed(conversion("SKU-001", user="u1"), touch("A", "click", user=None, session="other")) == {}


def test_another_publishers_touchpoint_does_not_count() -> None:
    assert attributed(conversion("SKU-001"), touch("A", "click", publisher="other")) == {}


def test_an_expired_touchpoint_not_yet_deleted_counts_as_absent() -> None:
    at = ORDER_AT - timedelta(days=13)
    assert attributed(conversion("SKU-001"), touch("A", "click", at=at), now=at + TOUCHPOINT_TTL) == {}
    assert attributed(conversion("SKU-001"), touch("A", "click", at=at), now=at + WINDOW) != {}


def test_revenue_is_promotional_price_times_quantity_of_matching_items_only() -> None:
    order = conversion()
    order["items"] = [{"sku": "SKU-001", "quantity": 1, "price": 2000.0, "promotional_price": 1899.0},
                      {"sku": "SKU-003", "quantity": 3, "price": 0.2, "promotional_price": 0.1},
                      {"sku": "SKU-999", "quantity": 2, "price": 500.0, "promotional_price": 400.0}]
    result = attribute(order, ORDER_AT, [touch("A", "click")], CAMPAIGNS, Window(WINDOW, SKEW), ORDER_AT)
    assert [(a.campaign_id, a.matched_skus, a.revenue_micros) for a in result] == [
        ("A", ["SKU-001", "SKU-003"], 1_899_300_000)]  # 0.1 x 3 exactly, no float drift


def test_campaigns_with_distinct_skus_are_each_credited_with_their_latest_touchpoint() -> None:
    early, late = touch("A", "click", at=ORDER_AT - timedelta(days=3)), touch("A", "click")
    result = attribute(conversion("SKU-002", "SKU-004"), ORDER_AT, [early, late, touch("B", "view")], CAMPAIGNS,
                       Window(WINDOW, SKEW), ORDER_AT)
    assert [a.campaign_id for a in result] == ["A", "B"]
    assert result[0].touchpoint == late


def test_a_shared_sku_goes_to_the_campaign_touched_last_never_to_both() -> None:
    # A (product, SKU-002) clicked 3 days before, V (video, SKU-002) viewed 1 day before.
    order = conversion("SKU-002", "SKU-001")
    a_click, v_view = touch("A", "click", at=ORDER_AT - timedelta(days=3)), touch("V", "view")
    result = attribute(order, ORDER_AT, [a_click, v_view], CAMPAIGNS, Window(WINDOW, SKEW), ORDER_AT)
    assert [(a.campaign_id, a.matched_skus, a.revenue_micros) for a in result] == [
        ("A", ["SKU-001"], 19_800_000), ("V", ["SKU-002"], 19_800_000)]
    # Clicked A again after V's view: A takes both items, V gets nothing (no conversion either).
    a_again = touch("A", "click", at=ORDER_AT - timedelta(hours=1))
    assert attributed(order, a_click, v_view, a_again) == {"A": 39_600_000}


def test_a_tie_goes_to_the_greatest_campaign_id() -> None:
    same_time = ORDER_AT - timedelta(days=2)
    assert attributed(conversion("SKU-002"), touch("A", "click", at=same_time), touch("V", "view", at=same_time)) == {
        "V": 19_800_000}


def test_credited_revenue_never_exceeds_the_orders_revenue() -> None:
    campaigns = {f"C{n}": Campaign(f"C{n}", "pub", random.Random(n).choice(["product", "display", "video"]),
                                   tuple(random.Random(n).sample([f"S{k}" for k in range(6)], 3)), (f"ad-{n}",))
                 for n in range(5)}
    draw = random.Random(17)
    for _ in range(300):
        items = [{"sku": f"S{draw.randrange(8)}", "quantity": draw.choice([1, 2, 0.5, 3]),
                  "price": 10.0, "promotional_price": draw.choice([0.1, 9.99, 0.0000005, 1899.0])}
                 for _ in range(draw.randrange(1, 6))]
        order = {**conversion(), "items": items}
        touchpoints = [Touchpoint(c.id, c.type, "pub", f"ad-{c.id}", "click", "u1", "s-ad",
                                  ORDER_AT - timedelta(minutes=draw.randrange(20_000)), ORDER_AT + TOUCHPOINT_TTL)
                       for c in campaigns.values() if draw.random() < 0.7]
        result = attribute(order, ORDER_AT, touchpoints, campaigns, Window(WINDOW, SKEW), ORDER_AT)
        assert sum(a.revenue_micros for a in result) <= revenue_micros(items)
        credited_skus = [sku for a in result for sku in a.matched_skus]
        assert len(credited_skus) == len(set(credited_skus))  # each SKU of the order to one campaign at most


def test_revenue_micros_rounds_half_even() -> None:
    assert revenue_micros([{"quantity": 3, "promotional_price": 0.3333335}]) == 1_000_000 + 0
    # Each item is rounded on its own, so the parts of an order never add up to more than it.
    half = {"quantity": 1, "promotional_price": 0.0000015}
    assert revenue_micros([half]) == 2 and revenue_micros([half, half]) == 4


@pytest.mark.parametrize("text,expected", [
    ("2023-01-01T09:20:00Z", datetime(2023, 1, 1, 9, 20, tzinfo=timezone.utc)),
    ("2023-01-01T09:20:00.123456789Z", datetime(2023, 1, 1, 9, 20, 0, 123456, tzinfo=timezone.utc)),
    ("2023-01-01T09:20:00.5+00:00", datetime(2023, 1, 1, 9, 20, 0, 500000, tzinfo=timezone.utc)),
    ("2016-12-31T23:59:60Z", datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)),
])
def test_created_at_parsing(text: str, expected: datetime) -> None:
    assert parse_created_at(text) == expected


def test_the_worked_example_of_docs_retail_media() -> None:
    campaigns = {"A": Campaign("A", "shop", "product", ("SKU-1", "SKU-2"), ("ad-a",)),
                 "B": Campaign("B", "shop", "display", ("SKU-2", "SKU-3"), ("ad-b",)),
                 "C": Campaign("C", "shop", "video", ("SKU-9",), ("ad-c",))}
    ordered_at = datetime(2026, 3, 6, 12, 0, tzinfo=timezone.utc)

    def touched(campaign: str, kind: str, at: datetime) -> Touchpoint:
        return Touchpoint(campaign, campaigns[campaign].type, "shop", f"ad-{campaign.lower()}", kind, "u1", "s1", at,
                          at + TOUCHPOINT_TTL)

    order = {"publisher_id": "shop", "user_id": "u1", "session_id": "s1", "order_id": "o", "items": [
        {"sku": "SKU-1", "quantity": 1, "price": 100.0, "promotional_price": 90.0},
        {"sku": "SKU-2", "quantity": 2, "price": 50.0, "promotional_price": 45.0},
        {"sku": "SKU-3", "quantity": 1, "price": 20.0, "promotional_price": 20.0},
        {"sku": "SKU-7", "quantity": 1, "price": 10.0, "promotional_price": 10.0}]}
    touchpoints = [touched("A", "click", datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)),
                   touched("B", "view", datetime(2026, 3, 5, 18, 0, tzinfo=timezone.utc)),
                   touched("C", "view", datetime(2026, 3, 6, 8, 0, tzinfo=timezone.utc))]

    def credited(*touches: Touchpoint) -> dict[str, int]:
        result = attribute(order, ordered_at, touches, campaigns, Window(WINDOW, SKEW), ordered_at)
        return {a.campaign_id: a.revenue_micros for a in result}

    assert revenue_micros(order["items"]) == 210_000_000
    assert credited(*touchpoints) == {"A": 90_000_000, "B": 110_000_000}
    assert credited(*touchpoints, touched("A", "click", datetime(2026, 3, 6, 9, 0, tzinfo=timezone.utc))) == {
        "A": 180_000_000, "B": 20_000_000}
