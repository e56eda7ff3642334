"""Conversions as a retailer sends them, over HTTP on the local stack, down to the stored record:
the spec's own example, hashes that are not SHA-256, optional fields sent as null, gender in
either case, orders dated in the future, prices the wrong way round."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from shared.retail_media.campaigns import Campaign
from tests.conftest import poll
from tests.integration.beacon_support import (
    fresh_campaign,
    order,
    post_conversion,
    post_event,
    wait_for_conversion,
)

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
ACCEPTED = {"messages": ["conversion will be processed soon"]}
SHA256 = hashlib.sha256(b"buyer@example.com").hexdigest()
NO_FLAGS = {"notSha256": [], "promotionalPriceAbovePrice": []}


@pytest.fixture(scope="module")
def campaign(stack: dict[str, Any]) -> Campaign:
    return fresh_campaign(stack, "product", skus=("12221", "12222"))


def spec_example() -> dict[str, Any]:
    cases = json.loads((GOLDEN / "inputs" / "conversions.json").read_text())
    return next(c["body"] for c in cases if c["name"] == "spec_request_example")


def beacon_log(stack: dict[str, Any]) -> list[dict[str, Any]]:
    lines = (Path(stack["logs"]) / "function-beacon.log").read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_the_specs_complete_example_is_accepted_and_its_placeholder_hash_flagged(stack: dict[str, Any]) -> None:
    example = spec_example()
    assert example["email_hashed"] == "xyz"
    example["order_id"] = f"spec-{uuid.uuid4().hex[:8]}"  # the printed "123", once per test run
    answer = post_conversion(stack, example)
    assert (answer.status_code, answer.json()) == (202, ACCEPTED)
    record = wait_for_conversion(stack, example)
    assert record["flags"] == {"notSha256": ["email_hashed"], "promotionalPriceAbovePrice": []}
    assert record["order"]["email_hashed"] == "xyz"
    assert record["revenueMicros"] == 2_699_000_000  # 1899.00 x 1 + 400.00 x 2
    # One warning line per flagged conversion, for a log-based metric to count.
    [line] = poll(lambda: [e for e in beacon_log(stack) if e.get("message") == "conversion accepted with flags"
                           and e.get("orderId") == example["order_id"]], what="the flagged conversion's log line")
    assert line["severity"] == "WARNING" and line["flags"]["notSha256"] == ["email_hashed"]


def test_an_upper_case_sha256_is_stored_in_lower_case(stack: dict[str, Any], campaign: Campaign) -> None:
    body = {**order(campaign, ("12221", 1, 10.0)), "email_hashed": SHA256.upper(), "phone_hashed": SHA256.upper()}
    assert post_conversion(stack, body).status_code == 202
    record = wait_for_conversion(stack, body)
    assert (record["order"]["email_hashed"], record["order"]["phone_hashed"]) == (SHA256, SHA256)
    assert record["flags"] == NO_FLAGS


def test_optional_fields_sent_as_null_mean_not_informed(stack: dict[str, Any], campaign: Campaign) -> None:
    # What the spec's own JavaScript sends for unknown values (`|| null`).
    nulls = {name: None for name in ("brand", "gender", "uf", "city", "is_company", "phone_hashed",
                                     "social_id_hashed", "first_name_hashed", "last_name_hashed")}
    body = {**order(campaign, ("12221", 1, 10.0)), **nulls}
    answer = post_conversion(stack, body)
    assert (answer.status_code, answer.json()) == (202, ACCEPTED)
    record = wait_for_conversion(stack, body)
    assert {name: record["order"][name] for name in nulls} == nulls
    assert record["flags"] == NO_FLAGS


@pytest.mark.parametrize("sent,stored", [("f", "F"), ("m", "M"), ("o", "O"), ("F", "F")])
def test_gender_in_either_case_is_stored_upper_case(stack: dict[str, Any], campaign: Campaign, sent: str,
                                                    stored: str) -> None:
    body = {**order(campaign, ("12221", 1, 10.0)), "gender": sent}
    assert post_conversion(stack, body).status_code == 202
    assert wait_for_conversion(stack, body)["order"]["gender"] == stored


def test_an_empty_hash_is_still_refused(stack: dict[str, Any], campaign: Campaign) -> None:
    answer = post_conversion(stack, {**order(campaign, ("12221", 1, 10.0)), "email_hashed": ""})
    assert answer.status_code == 422
    assert answer.json() == [{"instancePath": "/email_hashed", "schemaPath": "#/properties/email_hashed/minLength",
                              "keyword": "minLength", "params": {"limit": 1},
                              "message": "must NOT have fewer than 1 characters"}]


def test_a_conversion_dated_in_the_future_is_refused_in_the_ajv_shape(stack: dict[str, Any],
                                                                     campaign: Campaign) -> None:
    before = datetime.now(timezone.utc)
    answer = post_conversion(stack, order(campaign, ("12221", 1, 10.0),
                                          created_at=datetime(2099, 1, 1, tzinfo=timezone.utc)))
    after = datetime.now(timezone.utc)
    assert answer.status_code == 422
    [error] = answer.json()
    limit = error["params"]["limit"]
    assert error == {"instancePath": "/created_at", "schemaPath": "#/properties/created_at/formatMaximum",
                     "keyword": "formatMaximum", "params": {"comparison": "<=", "limit": limit},
                     "message": f"should be <= {limit}"}
    # The time of receipt plus the documented clock skew (ATTRIBUTION_CLOCK_SKEW_SECONDS, 5 min).
    bound = datetime.fromisoformat(limit.replace("Z", "+00:00"))
    assert before + timedelta(minutes=5) - timedelta(milliseconds=1) <= bound <= after + timedelta(minutes=5)


def test_created_at_within_the_clock_skew_is_accepted_beyond_it_refused(stack: dict[str, Any],
                                                                         campaign: Campaign) -> None:
    now = datetime.now(timezone.utc)
    ahead = order(campaign, ("12221", 1, 10.0), created_at=now + timedelta(minutes=4))
    assert post_conversion(stack, ahead).status_code == 202
    too_far = order(campaign, ("12221", 1, 10.0), created_at=now + timedelta(minutes=6))
    answer = post_conversion(stack, too_far)
    assert answer.status_code == 422 and answer.json()[0]["keyword"] == "formatMaximum"


def test_promotional_price_above_price_is_accepted_flagged_and_revenue_is_what_was_paid(
        stack: dict[str, Any], campaign: Campaign) -> None:
    body = order(campaign, ("12221", 2, 10.0), ("12222", 1, 5.0))
    body["items"][1]["price"] = 4.0  # the "de" price below the "por" price: probably swapped
    assert post_event(stack, "click", campaign.ad_ids[0], {"session_id": body["session_id"]}).status_code == 202
    assert post_conversion(stack, body).status_code == 202
    record = wait_for_conversion(stack, body)
    assert record["flags"] == {"notSha256": [], "promotionalPriceAbovePrice": [1]}
    assert record["revenueMicros"] == 25_000_000  # promotional_price x quantity: 10.00 x 2 + 5.00 x 1
    assert record["campaigns"][0]["revenueMicros"] == 25_000_000
    assert record["order"]["items"][1] == {"sku": "12222", "seller_id": None, "product_id": None, "quantity": 1,
                                           "price": 4.0, "promotional_price": 5.0}


def test_unknown_fields_are_accepted_but_not_stored(stack: dict[str, Any], campaign: Campaign) -> None:
    body = order(campaign, ("12221", 1, 10.0))
    body["__name__"] = "x"
    body["items"][0]["color"] = "blue"
    assert post_conversion(stack, body).status_code == 202
    record = wait_for_conversion(stack, body)
    assert "__name__" not in record["order"] and "color" not in record["order"]["items"][0]



def test_unpaired_surrogates_are_accepted_as_ajv_does_and_kept_as_javascript_writes_them(
        stack: dict[str, Any], campaign: Campaign) -> None:
    # A JavaScript string sliced through an emoji: valid JSON, which Ajv accepts.
    session, order_id = f"s-{uuid.uuid4().hex}\\ud83d", f"o-{uuid.uuid4().hex}\\udc00"
    click = post_event(stack, "click", campaign.ad_ids[0], data=f'{{"session_id": "{session}"}}'.encode())
    assert click.status_code == 202, click.text
    body = order(campaign, ("12221", 1, 10.0), session="@session@", order_id="@order@")
    text = json.dumps(body).replace("@session@", session).replace("@order@", order_id).encode()
    assert post_conversion(stack, data=text).status_code == 202
    # Stored as U+FFFD (as JavaScript's UTF-8 encoders write it): the click and the order still meet.
    record = wait_for_conversion(stack, {**body, "order_id": json.loads(f'"{order_id}"').replace("\udc00", "\ufffd")})
    assert record["sessionId"] == json.loads(f'"{session}"').replace("\ud83d", "\ufffd")
    assert record["attributed"] is True


def test_a_number_beyond_a_double_in_an_unknown_field_is_accepted_and_never_published(
        stack: dict[str, Any], campaign: Campaign) -> None:
    body = order(campaign, ("12221", 1, 10.0))
    text = json.dumps({**body, "extra": "@huge@"}).replace('"@huge@"', "1e400").encode()
    assert post_conversion(stack, data=text).status_code == 202
    assert wait_for_conversion(stack, body)["order"]["order_id"] == body["order_id"]
