"""What the beacon declares elsewhere matches the code: topology.yaml and openapi.yaml."""

from __future__ import annotations

from pathlib import Path

import yaml

from shared.retail_media.attribution import ATTRIBUTIONS
from shared.retail_media.beacon import AD_EVENTS, TOUCHPOINTS, schema
from shared.retail_media.dedup import COLLECTION as DEDUP_KEYS
from tools import topology

ROOT = Path(__file__).resolve().parents[2]


def test_topology_declares_the_functions_topic_ttls_and_indexes() -> None:
    shape = topology.load()
    assert "conversions" in shape.topics
    assert shape.function("beacon").trigger == "http" and shape.function("beacon").public
    assert shape.function("reports").trigger == "http" and not shape.function("reports").public
    attribution = shape.function("attribution")
    assert attribution.trigger == "topic" and attribution.subscription.topic == "conversions"
    firestore = yaml.safe_load((ROOT / "topology.yaml").read_text())["firestore"]
    assert {DEDUP_KEYS, TOUCHPOINTS} <= set(firestore["ttl_collections"])
    indexed = {(i["collection"], tuple(f for f, _ in i["fields"])) for i in firestore["indexes"]}
    assert {(AD_EVENTS, ("campaignId", "day", "kind")), (ATTRIBUTIONS, ("campaignId", "day")),
            (TOUCHPOINTS, ("userId", "at")), (TOUCHPOINTS, ("sessionId", "at"))} <= indexed


def test_openapi_documents_the_endpoints_and_the_schemas_as_they_are() -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    assert {"/v1/beacon/{kind}/{adId}", "/v1/beacon/conversion", "/v1/reports/campaigns/{campaignId}"} <= set(
        spec["paths"])
    assert spec["paths"]["/v1/beacon/conversion"]["post"]["responses"]["202"]
    documented = spec["components"]["schemas"]
    for name, component in (("conversion", "Conversion"), ("ad_event", "AdEvent")):
        real = schema(name).schema
        assert documented[component]["required"] == real["required"]
        assert list(documented[component]["properties"]) == list(real["properties"])
    assert (list(documented["Conversion"]["properties"]["items"]["items"]["properties"])
            == list(schema("conversion").schema["properties"]["items"]["items"]["properties"]))
