"""Demo of retail media: beacons for the demo campaigns, the spec's conversion, its attribution
(asynchronous, through topic "conversions") and the campaign reports."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

import requests
from google.cloud import firestore

from shared.retail_media.attribution import CONVERSIONS
from tools.stack_beacon import DEMO_ORIGIN


def run(info: dict, show: Callable[[str], None]) -> None:
    show("== beacon: ad events, a conversion, its attribution, the reports ==")
    campaigns = {c["type"]: c for c in info["demo_campaigns"]}
    for campaign in campaigns.values():
        show(f"campaign {campaign['id']} ({campaign['type']}): ads {campaign['ad_ids']}, SKUs {campaign['skus']}")
    beacon = info["functions"]["beacon"]
    user, session = f"user-{uuid.uuid4().hex[:6]}", f"session-{uuid.uuid4().hex[:6]}"
    body = {"user_id": user, "session_id": session}

    show("")
    show(f"a storefront at {DEMO_ORIGIN} fires beacons for {user} (as navigator.sendBeacon does: text/plain):")
    for kind, campaign_type in (("impression", "product"), ("impression", "product"), ("click", "product"),
                                ("impression", "video"), ("view", "video"), ("view", "display")):
        ad_id = campaigns[campaign_type]["ad_ids"][0]
        answer = requests.post(f"{beacon}/v1/beacon/{kind}/{ad_id}", data=_json(body), timeout=10,
                               headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": DEMO_ORIGIN})
        show(f"  POST /v1/beacon/{kind}/{ad_id}: HTTP {answer.status_code} {answer.json()} "
             f"(CORS: {answer.headers.get('Access-Control-Allow-Origin')})")
    show("  (the second product impression falls in the 1-minute dedup window: accepted, not counted)")
    answer = requests.post(f"{beacon}/v1/beacon/click/no-such-ad", json=body, timeout=10)
    show(f"  an unknown ad: HTTP {answer.status_code} {answer.json()}")

    show("")
    show("the spec's conversion example (its SKUs 12221, 12222 are the video campaign's), with this user,")
    show("one more item of the product campaign, and a real email hash:")
    order = {
        "channel": "ecommerce", "publisher_id": campaigns["product"]["publisher_id"], "user_id": user,
        "session_id": session, "order_id": f"order-{uuid.uuid4().hex[:8]}",
        "email_hashed": hashlib.sha256(b"buyer@example.com").hexdigest(),
        "items": [
            {"sku": "12221", "seller_id": "1234", "product_id": "4567", "quantity": 1, "price": 2000.00,
             "promotional_price": 1899.00},
            {"sku": "12222", "seller_id": None, "product_id": "4568", "quantity": 2, "price": 500.00,
             "promotional_price": 400.00},
            {"sku": campaigns["product"]["skus"][1], "seller_id": None, "product_id": None, "quantity": 3,
             "price": 59.90, "promotional_price": 49.90},
        ],
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    answer = requests.post(f"{beacon}/v1/beacon/conversion", json=order, timeout=10)
    show(f"  POST /v1/beacon/conversion: HTTP {answer.status_code} {answer.json()}")
    answer = requests.post(f"{beacon}/v1/beacon/conversion", json=order, timeout=10)
    show(f"  the same order again: HTTP {answer.status_code} {answer.json()} (ignored for 30 days)")
    answer = requests.post(f"{beacon}/v1/beacon/conversion", json={"channel": "ecommerce", "session_id": session},
                           timeout=10)
    show(f"  an incomplete order: HTTP {answer.status_code}, Ajv errors:")
    for error in answer.json():
        show(f"    {error}")

    show("")
    show("attribution (asynchronous: topic 'conversions' -> push -> attribution function):")
    record = _wait_for_attribution(info["project_id"], order)
    if record is None:
        show("  not attributed within 30 s: see .stack/demo/logs/function-attribution.log")
    elif not record["campaigns"]:
        show("  processed: not attributed to any campaign")
    else:
        for campaign in record["campaigns"]:
            show(f"  attributed to {campaign['campaignId']}: matched SKUs {campaign['matchedSkus']}, revenue "
                 f"{campaign['revenueMicros'] / 1e6:.2f} (promotional price x quantity of those SKUs)")
    show("  (the display campaign was viewed too, but none of its SKUs was bought: no conversion for it)")

    show("")
    show("GET /v1/reports/campaigns/{id} (API key), today:")
    for campaign in campaigns.values():
        answer = requests.get(f"{info['functions']['reports']}/v1/reports/campaigns/{campaign['id']}",
                              params={"from": order["created_at"][:10]}, timeout=30,
                              headers={"Authorization": f"Bearer {info['dev_api_key']}"})
        show(f"  {campaign['id']}: HTTP {answer.status_code} totals {answer.json().get('totals')}")


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def _wait_for_attribution(project_id: str, order: dict[str, Any], timeout: float = 30.0) -> dict[str, Any] | None:
    query = (firestore.Client(project=project_id).collection(CONVERSIONS)
             .where(filter=firestore.FieldFilter("publisherId", "==", order["publisher_id"]))
             .where(filter=firestore.FieldFilter("orderId", "==", order["order_id"])))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [s.to_dict() for s in query.stream()]
        if found:
            return found[0]
        time.sleep(0.2)
    return None
