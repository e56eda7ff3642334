"""The beacon over HTTP on the local stack: the spec's requests one by one, bodies, CORS, limits."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from shared.retail_media.campaigns import Campaign, CampaignStore
from tests.integration.beacon_support import (
    counted,
    db,
    fresh_campaign,
    post_conversion,
    post_event,
)
from tools.stack_beacon import DEMO_ORIGIN

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
ACCEPTED = {"messages": ["conversion will be processed soon"]}


@pytest.fixture(scope="module")
def product(stack: dict[str, Any]):
    return fresh_campaign(stack, "product")


# -- the spec's requests -------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["impression", "view", "click"])
def test_spec_event_request_is_accepted_and_counted(stack: dict[str, Any], kind: str) -> None:
    campaign = fresh_campaign(stack, "display")
    # The spec's sendImpressionEvent(url, 'user-123', 'session-456') with Content-Type application/json.
    answer = post_event(stack, kind, campaign.ad_ids[0], {"user_id": "user-123", "session_id": "session-456"})
    assert answer.status_code == 202
    assert answer.json() == {"messages": [f"{kind} accepted"]}
    assert counted(stack, campaign.id, kind) == 1


def test_spec_conversion_request_with_a_real_hash_is_accepted(stack: dict[str, Any], product) -> None:
    body = json.loads((GOLDEN / "inputs" / "conversions.json").read_text())
    example = next(c["body"] for c in body if c["name"] == "spec_request_example_hashed")
    example["publisher_id"] = product.publisher_id
    answer = requests.post(f"{stack['functions']['beacon']}/v1/beacon/conversion", json=example,
                           headers={"Accept": "application/json"}, timeout=30)
    assert (answer.status_code, answer.json()) == (202, ACCEPTED)


def test_spec_error_example_over_http(stack: dict[str, Any]) -> None:
    golden = json.loads((GOLDEN / "conversions" / "spec_error_example.json").read_text())
    answer = post_conversion(stack, {"channel": "ecommerce", "session_id": "5898b8d1-c250-4bb5-931b-8b9d0ee7b499",
                                     "email_hashed": "a" * 64})
    assert answer.status_code == 422
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json() == golden["errors"]


@pytest.mark.parametrize("directory,path_kind", [("conversions", None), ("ad_events", "click")])
def test_every_golden_case_over_http_equals_ajv(stack: dict[str, Any], product, directory: str,
                                                path_kind: str | None) -> None:
    cases = {c["name"]: c for c in json.loads((GOLDEN / "inputs" / f"{directory}.json").read_text())}
    for golden_file in sorted((GOLDEN / directory).glob("*.json")):
        golden = json.loads(golden_file.read_text())
        # created_at's bound is the time of receipt over HTTP (test_beacon_conversions.py).
        if golden["valid"] or "schemaAdditions" in cases[golden["name"]]:
            continue
        case = cases[golden["name"]]
        data = case["text"].encode() if "text" in case else json.dumps(case["body"]).replace("Infinity", "1e400").encode()
        headers = {"Content-Type": "application/json"}
        answer = (post_event(stack, path_kind, product.ad_ids[0], data=data, headers=headers) if path_kind
                  else requests.post(f"{stack['functions']['beacon']}/v1/beacon/conversion", data=data,
                                     headers=headers, timeout=30))
        assert answer.status_code == 422, golden["name"]
        assert answer.json() == golden["errors"], golden["name"]


# -- bodies ------------------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["text/plain;charset=UTF-8", "application/json", None])
def test_send_beacon_bodies_are_accepted(stack: dict[str, Any], content_type: str | None) -> None:
    # sendBeacon(url, string) sends text/plain; a Blob its own type, or none for an untyped Blob.
    campaign = fresh_campaign(stack, "product")
    headers = {"Content-Type": content_type} if content_type else {}
    answer = post_event(stack, "impression", campaign.ad_ids[0], data=b'{"session_id": "s-1"}', headers=headers)
    assert answer.status_code == 202
    assert counted(stack, campaign.id, "impression") == 1


def test_malformed_body_gets_422_in_the_ajv_shape(stack: dict[str, Any], product) -> None:
    answer = post_event(stack, "click", product.ad_ids[0], data=b"{session_id: s}",
                        headers={"Content-Type": "text/plain"})
    assert answer.status_code == 422
    [error] = answer.json()
    assert (error["instancePath"], error["schemaPath"], error["keyword"], error["message"]) == (
        "", "#", "json", "must be valid JSON")
    answer = post_event(stack, "click", product.ad_ids[0], data=b'{"session_id": NaN}')
    assert answer.status_code == 422 and answer.json()[0]["keyword"] == "json"


def test_missing_session_id_gets_ajv_errors(stack: dict[str, Any], product) -> None:
    answer = post_event(stack, "view", product.ad_ids[0], {"user_id": "user-123"})
    assert answer.status_code == 422
    assert answer.json() == [{"instancePath": "", "schemaPath": "#/required", "keyword": "required",
                              "params": {"missingProperty": "session_id"},
                              "message": "must have required property 'session_id'"}]


def test_unknown_ad_is_refused(stack: dict[str, Any]) -> None:
    answer = post_event(stack, "impression", "no-such-ad", {"session_id": "s"})
    assert answer.status_code == 404
    assert answer.json() == {"messages": ["unknown ad 'no-such-ad'"]}


def test_bodies_are_bounded(stack: dict[str, Any], product) -> None:
    big = json.dumps({"session_id": "s", "padding": "x" * 5000}).encode()
    assert post_event(stack, "click", product.ad_ids[0], data=big).status_code == 413
    huge = json.dumps({"items": ["x" * 1000] * 300}).encode()
    answer = requests.post(f"{stack['functions']['beacon']}/v1/beacon/conversion", data=huge, timeout=30)
    assert answer.status_code == 413 and "messages" in answer.json()


def test_other_content_types_methods_and_routes(stack: dict[str, Any], product) -> None:
    form = post_event(stack, "click", product.ad_ids[0], data=b"session_id=s",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415
    base = stack["functions"]["beacon"]
    assert requests.get(f"{base}/v1/beacon/click/{product.ad_ids[0]}", timeout=10).status_code == 405
    assert requests.post(f"{base}/v1/beacon/hover/{product.ad_ids[0]}", json={}, timeout=10).status_code == 404


# -- CORS --------------------------------------------------------------------------------------

def test_preflight_from_an_allowed_origin(stack: dict[str, Any], product) -> None:
    answer = requests.options(f"{stack['functions']['beacon']}/v1/beacon/conversion", timeout=10, headers={
        "Origin": DEMO_ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == DEMO_ORIGIN
    assert answer.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in answer.headers["Access-Control-Allow-Methods"]
    assert "content-type" in answer.headers["Access-Control-Allow-Headers"].lower()


def test_beacon_from_an_allowed_origin_carries_cors_headers(stack: dict[str, Any], product) -> None:
    answer = post_event(stack, "impression", product.ad_ids[0], {"session_id": "s-cors"},
                        headers={"Origin": DEMO_ORIGIN})
    assert answer.status_code == 202
    assert answer.headers["Access-Control-Allow-Origin"] == DEMO_ORIGIN
    assert answer.headers["Vary"] == "Origin"


def test_another_origin_is_refused(stack: dict[str, Any], product) -> None:
    before = counted(stack, product.id, "click")
    answer = post_event(stack, "click", product.ad_ids[0], {"session_id": "s-evil"},
                        headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert "Access-Control-Allow-Origin" not in answer.headers
    preflight = requests.options(f"{stack['functions']['beacon']}/v1/beacon/conversion",
                                 headers={"Origin": "https://evil.example"}, timeout=10)
    assert preflight.status_code == 403 and "Access-Control-Allow-Origin" not in preflight.headers
    assert counted(stack, product.id, "click") == before


# -- the stack ---------------------------------------------------------------------------------

def test_stack_json_lists_beacon_and_the_demo_campaigns(stack: dict[str, Any]) -> None:
    assert {"beacon", "attribution", "reports"} <= set(stack["functions"])
    assert "conversions" in stack["topics"] and "attribution" in stack["subscriptions"]
    demo = {c["type"]: c for c in stack["demo_campaigns"]}
    assert set(demo) == {"product", "display", "video"}
    for campaign in demo.values():
        assert campaign["ad_ids"] and campaign["skus"] and campaign["publisher_id"] and campaign["id"]
        answer = post_event(stack, "impression", campaign["ad_ids"][0], {"session_id": "s-demo"})
        assert answer.status_code == 202


# -- the ad lookup cache -----------------------------------------------------------------------

def test_an_ad_created_right_after_a_miss_is_found_at_once(local_stack, stack: dict[str, Any]) -> None:
    # An instance with production's cache time: a 404 must not be remembered for 30 s.
    instance = "-campaign-cache-30"
    url = local_stack.launch_function("beacon", extra_env={"CAMPAIGN_CACHE_SECONDS": "30"}, instance=instance)
    try:
        ad_id = f"ad-late-{uuid.uuid4().hex[:10]}"
        answer = requests.post(f"{url}/v1/beacon/impression/{ad_id}", json={"session_id": "s"}, timeout=30)
        assert answer.status_code == 404
        campaign = Campaign(f"c-late-{ad_id}", "pub-late", "display", ("SKU-L",), (ad_id,))
        CampaignStore(db(stack)).apply(campaign)
        answer = requests.post(f"{url}/v1/beacon/impression/{ad_id}", json={"session_id": "s"}, timeout=30)
        assert answer.status_code == 202
        assert counted(stack, campaign.id, "impression") == 1
    finally:
        local_stack.stop_child(f"function-beacon{instance}")
