"""The campaign file and the per-instance ad lookup."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shared.retail_media.campaigns import (
    Ad,
    AdLookup,
    Campaign,
    CampaignFileError,
    parse_campaigns,
    shared_skus,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "campaigns" / "demo.yaml"


def campaign(**changes: object) -> dict:
    return {"id": "c1", "publisher_id": "p1", "type": "product", "skus": ["S1"], "ad_ids": ["a1"], **changes}


def test_the_example_file_has_one_campaign_of_each_type() -> None:
    campaigns = parse_campaigns(yaml.safe_load(EXAMPLE.read_text()))
    assert sorted(c.type for c in campaigns) == ["display", "product", "video"]
    assert all(c.skus and c.ad_ids and c.publisher_id for c in campaigns)


@pytest.mark.parametrize("document,problem", [
    ({}, "non-empty list 'campaigns'"),
    ({"campaigns": [campaign(type="banner")]}, "type: must be one of product, display, video"),
    ({"campaigns": [campaign(id="has/slash")]}, "campaigns[0].id"),
    ({"campaigns": [campaign(skus=[12221])]}, "must be quoted"),
    ({"campaigns": [campaign(skus=[])]}, "skus: must be a non-empty list"),
    ({"campaigns": [campaign(ad_ids=["a1", "a1"])]}, "appears twice"),
    ({"campaigns": [campaign(), campaign()]}, "'c1' appears twice"),
    ({"campaigns": [campaign(), campaign(id="c2")]}, "'a1' also belongs to campaign 'c1'"),
    ({"campaigns": [campaign(budget=10)]}, "unknown fields ['budget']"),
])
def test_an_invalid_file_is_refused_naming_the_problem(document: object, problem: str) -> None:
    with pytest.raises(CampaignFileError) as error:
        parse_campaigns(document)
    assert problem in str(error.value)


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(CampaignFileError) as error:
        parse_campaigns({"campaigns": [campaign(type="x"), campaign(id="c2", ad_ids=[], skus=None)]})
    assert str(error.value).count("\n  - ") == 3


def test_skus_shared_by_campaigns_of_one_publisher_are_listed() -> None:
    a = Campaign("a", "p1", "product", ("S1", "S2"), ("ad-a",))
    b = Campaign("b", "p1", "display", ("S2", "S3"), ("ad-b",))
    other_publisher = Campaign("c", "p2", "video", ("S1", "S2"), ("ad-c",))
    assert shared_skus([b, other_publisher, a]) == [("p1", "S2", ["a", "b"])]
    assert shared_skus(parse_campaigns(yaml.safe_load(EXAMPLE.read_text()))) == []


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ad_lookup_trusts_a_found_ad_for_its_ttl_then_asks_again() -> None:
    loads: list[str] = []
    ad = Ad("a1", "c1", "product", "p1")
    clock = FakeClock()
    lookup = AdLookup(lambda ad_id: loads.append(ad_id) or ad, 30, clock=clock)
    assert lookup("a1") == ad and lookup("a1") == ad
    assert loads == ["a1"]
    clock.now = 30.0
    lookup("a1")
    assert loads == ["a1", "a1"]


def test_ad_lookup_never_caches_a_miss() -> None:
    # campaigns apply creates the ad after a beacon asked for it: the next beacon must find it.
    registry: dict[str, Ad] = {}
    lookup = AdLookup(registry.get, 30, clock=FakeClock())
    assert lookup("new-ad") is None
    registry["new-ad"] = Ad("new-ad", "c1", "display", "p1")
    assert lookup("new-ad") == registry["new-ad"]


def test_ad_lookup_forgets_an_ad_found_missing_after_its_ttl() -> None:
    registry = {"a1": Ad("a1", "c1", "product", "p1")}
    clock = FakeClock()
    lookup = AdLookup(registry.get, 30, clock=clock)
    assert lookup("a1") is not None
    del registry["a1"]
    clock.now = 30.0
    assert lookup("a1") is None and lookup("a1") is None


def test_ad_lookup_is_bounded_and_never_loads_an_impossible_id() -> None:
    loads: list[str] = []
    lookup = AdLookup(lambda ad_id: loads.append(ad_id) or Ad(ad_id, "c", "product", "p"), 30, max_entries=2,
                      clock=FakeClock())
    for ad_id in ("a", "b", "c", "a"):
        lookup(ad_id)
    assert loads == ["a", "b", "c", "a"]  # "a" was evicted by "c"
    assert lookup("../etc") is None and loads[-1] == "a"
