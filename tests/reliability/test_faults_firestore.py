"""Firestore frozen while storefronts post ad events and conversions to beacon and an external
system records users and event occurrences through monitor.

Every answer is waited for (the client timeout is longer than the freeze), so each count is
exact. Counted once the load stopped: every click beacon answered 202 is counted once (its
ad_events record and the campaign report), every conversion answered 202 is recorded once by
attribution, every user monitor created exists, and every occurrence monitor answered 200 is at
each destination of its partner, once at MongoDB and Cloud Storage.
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from datetime import date
from typing import Any

import pytest
import requests
from google.cloud import firestore

from shared.monitor.config import ConfigStore, parse_event_type
from shared.monitor.store import USERS
from shared.retail_media.attribution import CONVERSIONS
from shared.retail_media.beacon import AD_EVENTS
from shared.retail_media.campaigns import Campaign, CampaignStore
from tests.conftest import poll
from tests.integration.beacon_support import order
from tests.reliability.fault_support import (
    CLIENT_TIMEOUT_SECONDS,
    DELIVERY_DEADLINE_SECONDS,
    LOAD_AFTER_SECONDS,
    LOAD_BEFORE_SECONDS,
    NONE,
    FaultPartner,
    Load,
    child,
    frozen_for,
    own_stack,
    report,
    seconds_since,
    wait_for_deliveries,
)

pytestmark = pytest.mark.integration

FREEZE_SECONDS = 15.0
EVENT_TYPE = "fault.checked"

fault_stack = own_stack("firestore-faults")


def count(db: firestore.Client, collection: str, **equal: str) -> int:
    query: Any = db.collection(collection)
    for name, value in equal.items():
        query = query.where(filter=firestore.FieldFilter(name, "==", value))
    return int(query.count(alias="n").get()[0][0].value)


def test_firestore_frozen_under_beacon_and_monitor_load(fault_stack):
    info = fault_stack.info
    db = firestore.Client(project=fault_stack.project_id)
    suffix = uuid.uuid4().hex[:8]
    campaign = Campaign(f"fault-{suffix}", f"pub-{suffix}", "product", ("SKU-F1",), (f"ad-fault-{suffix}",),
                        "fault test")
    CampaignStore(db).apply(campaign)
    partner = FaultPartner.register(fault_stack)
    ConfigStore(db).put_event_types([parse_event_type(
        {"id": EVENT_TYPE, "whitelabel": partner.whitelabel, "fields": [{"id": "n", "type": "number"}]})])
    monitor_headers = {"Authorization": f"Bearer {info['dev_api_key']}", "Content-Type": "application/json"}
    monitor_url = info["functions"]["monitor"]
    beacon_url = info["functions"]["beacon"]

    def create_user(friendly_id: str) -> requests.Response:
        return requests.post(f"{monitor_url}/v1/users", json={"friendlyId": friendly_id}, headers=monitor_headers,
                             timeout=CLIENT_TIMEOUT_SECONDS)

    track_ids = [create_user(f"fault-user-{suffix}-{n}").json()["lum_user"]["trackId"] for n in range(5)]
    occurrences: dict[str, dict[str, Any]] = {}  # a request's id -> monitor's answer
    clicks = Load(lambda: uuid.uuid4().hex,
                  lambda session: requests.post(f"{beacon_url}/v1/beacon/click/{campaign.ad_ids[0]}",
                                                json={"session_id": session, "user_id": f"u-{session}"},
                                                timeout=CLIENT_TIMEOUT_SECONDS),
                  ok=lambda status: status == 202, senders=3)
    conversions = Load(lambda: uuid.uuid4().hex,
                       lambda order_id: requests.post(f"{beacon_url}/v1/beacon/conversion",
                                                      json=order(campaign, ("SKU-F1", 1, 10.0), order_id=order_id),
                                                      timeout=CLIENT_TIMEOUT_SECONDS),
                       # 503: "could not be queued: send again"; resending an order is safe (deduplicated)
                       ok=lambda status: status == 202, resend=lambda answer: answer == 503 or isinstance(answer, str),
                       senders=1, interval=0.5)

    def record_occurrence(request_id: str) -> requests.Response:
        answer = requests.post(f"{monitor_url}/v1/events/{EVENT_TYPE}/data",
                               json={"lum_user": {"trackId": random.choice(track_ids)}, "n": 1},
                               headers=monitor_headers, timeout=CLIENT_TIMEOUT_SECONDS)
        if answer.status_code == 200:
            occurrences[request_id] = answer.json()
        return answer

    created: dict[str, str] = {}  # friendlyId -> trackId

    def record_user(friendly_id: str) -> requests.Response:
        answer = create_user(friendly_id)
        if answer.status_code == 200:
            created[friendly_id] = answer.json()["lum_user"]["trackId"]
        return answer

    events = Load(lambda: uuid.uuid4().hex, record_occurrence, ok=lambda status: status == 200, senders=2)
    users = Load(lambda: f"fault-user-{uuid.uuid4().hex}", record_user, ok=lambda status: status == 200,
                 senders=1, interval=0.5)
    loads = {"clicks": clicks, "conversions": conversions, "monitor events": events, "monitor users": users}

    with contextlib.ExitStack() as running:
        for load in loads.values():
            running.enter_context(load)
        time.sleep(LOAD_BEFORE_SECONDS)
        frozen_for(FREEZE_SECONDS, child(fault_stack, "firestore-emulator"))
        thawed_at = time.monotonic()
        time.sleep(LOAD_AFTER_SECONDS)

    clicked = len(clicks.acknowledged())
    ordered = {sent.item for sent in conversions.acknowledged()}
    published = {answer["eventId"] for answer in occurrences.values()}
    poll(lambda: count(db, CONVERSIONS, publisherId=campaign.publisher_id) >= len(ordered), timeout=60,
         what="attribution of every accepted conversion")
    delivery_counts, delivered_at = wait_for_deliveries(partner, dict.fromkeys(published), published,
                                                        DELIVERY_DEADLINE_SECONDS)
    report_answer = requests.get(f"{info['functions']['reports']}/v1/reports/campaigns/{campaign.id}",
                                 params={"from": date.today().isoformat(), "to": date.today().isoformat()},
                                 headers={"Authorization": f"Bearer {info['dev_api_key']}"}, timeout=30)
    recorded_orders = {doc.to_dict()["orderId"] for doc in db.collection(CONVERSIONS)
                       .where(filter=firestore.FieldFilter("publisherId", "==", campaign.publisher_id)).stream()}
    conversion_records = count(db, CONVERSIONS, publisherId=campaign.publisher_id)
    report("Firestore frozen", seconds=FREEZE_SECONDS,
           answers={name: dict(load.answers()) for name, load in loads.items()},
           slowest_answer_seconds={name: round(load.slowest_answer_seconds, 1) for name, load in loads.items()},
           first_acknowledged_after_fault={name: load.first_acknowledged_after(thawed_at)
                                           for name, load in loads.items()},
           clicks_recorded=count(db, AD_EVENTS, campaignId=campaign.id),
           report_clicks=report_answer.json()["totals"]["clicks"], conversions_recorded=conversion_records,
           users_created=len(created), occurrences_delivered_after_fault=seconds_since(thawed_at, delivered_at),
           missing=delivery_counts.missing(published), duplicates=delivery_counts.duplicates())

    assert all(load.refused() == [] for load in loads.values()), {n: dict(l.answers()) for n, l in loads.items()}
    assert count(db, AD_EVENTS, campaignId=campaign.id, kind="click") == clicked
    assert report_answer.json()["totals"]["clicks"] == clicked
    assert recorded_orders == ordered and conversion_records == len(ordered)
    assert len(published) == len(events.acknowledged())
    assert delivery_counts.missing(published) == NONE
    assert delivery_counts.duplicates()["mongodb"] == delivery_counts.duplicates()["gcs"] == 0
    assert delivery_counts.corrupt() == NONE
    assert len(created) == len(users.acknowledged())
    assert all(snapshot.exists for snapshot in db.get_all([db.collection(USERS).document(track_id)
                                                           for track_id in created.values()]))
