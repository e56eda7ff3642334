"""The forwarder's decisions, with the destination and the delivery log replaced by recorders.
The same paths run against the emulators in tests/integration/test_forwarding.py."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from shared.events.message import encode_event
from shared.forwarding.delivery_log import (
    DEAD_LETTERED,
    DELIVERED,
    FAILED,
    Attempt,
    LogEntry,
)
from shared.forwarding.destinations.gcs import object_name
from shared.forwarding.forwarder import DeliveryIncomplete, Forwarder
from shared.forwarding.message import ForwardedEvent, MalformedEvent, PubSubMessage
from shared.forwarding.partners import GcsDestination, Partner, WebhookDestination
from tests.conftest import fresh_event

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)


def hook(hook_id: str, event_types: tuple[str, ...] | None = None) -> WebhookDestination:
    return WebhookDestination(hook_id, "webhook", event_types, f"https://p.example/{hook_id}", ("env:S",), 10.0)


class RecordingDelivery:
    kind = "webhook"

    def __init__(self, failing: set[str] = frozenset()):
        self.failing = set(failing)
        self.calls: list[str] = []

    def deliver(self, event, destination):
        self.calls.append(destination.id)
        if destination.id in self.failing:
            return Attempt(False, "HTTP 503", 503)
        return Attempt(True, "HTTP 200", 200)


class MemoryLog:
    def __init__(self):
        self.entries_: dict[str, LogEntry] = {}

    def entries(self, event_id, destination_ids):
        return {d: self.entries_.get(f"{event_id}:{d}", LogEntry(False)) for d in destination_ids}

    def record(self, event_id, destination_id, *, partner, kind, attempt, previous, status=None):
        status = status or (DELIVERED if attempt.ok else FAILED)
        self.entries_[f"{event_id}:{destination_id}"] = LogEntry(True, status, previous.attempts + 1)
        return previous.attempts + 1


def message(event: dict, **attributes: str) -> PubSubMessage:
    return PubSubMessage(encode_event(event), {"eventId": event["eventId"], "flowId": "f-1", **attributes}, "m-1")


def make(partner: Partner | None, delivery: RecordingDelivery, dead_letters: list) -> tuple[Forwarder, MemoryLog]:
    log = MemoryLog()
    forwarder = Forwarder(function_name="forward_webhook", delivery=delivery,
                          partners=lambda w: partner if partner and w == partner.whitelabel else None,
                          log=log, dead_letter=lambda m, reason: dead_letters.append(reason),
                          max_event_age_seconds=86400, executor=ThreadPoolExecutor(2), clock=lambda: NOW)
    return forwarder, log


def recent_event() -> dict:
    event = fresh_event("view")
    event["eventDate"] = (NOW - timedelta(minutes=5)).isoformat()
    return event


PARTNER = Partner("company-xpto", "XPTO", False, (hook("a"), hook("b"), GcsDestination("g", "gcs", None, "bkt", "")))


def test_delivers_to_every_destination_of_its_kind_only():
    delivery = RecordingDelivery()
    forwarder, log = make(PARTNER, delivery, [])
    assert forwarder.handle(message(recent_event())) == "delivered"
    assert sorted(delivery.calls) == ["a", "b"]


def test_a_redelivered_message_skips_destinations_already_delivered():
    delivery = RecordingDelivery(failing={"b"})
    forwarder, log = make(PARTNER, delivery, [])
    event = recent_event()
    with pytest.raises(DeliveryIncomplete) as raised:
        forwarder.handle(message(event))
    assert raised.value.destination_ids == ["b"] and "p.example" not in str(raised.value)
    delivery.failing.clear()
    assert forwarder.handle(message(event)) == "delivered"
    assert sorted(delivery.calls) == ["a", "b", "b"]
    assert log.entries_[f"{event['eventId']}:b"] == LogEntry(True, DELIVERED, 2)


@pytest.mark.parametrize("partner, attributes, outcome", [
    (None, {}, "no_partner"),
    (Partner("company-xpto", "XPTO", True, (hook("a"),)), {}, "no_destinations"),
    (Partner("company-xpto", "XPTO", False, (GcsDestination("g", "gcs", None, "bkt", ""),)), {}, "no_destinations"),
    (Partner("company-xpto", "XPTO", False, (hook("a", ("other.type",)),)), {}, "no_destinations"),
    (PARTNER, {"replayFor": "forward_gcs"}, "not_for_this_forwarder"),
])
def test_acknowledged_at_once_when_there_is_nothing_to_do(partner, attributes, outcome):
    delivery = RecordingDelivery()
    forwarder, _ = make(partner, delivery, [])
    assert forwarder.handle(message(recent_event(), **attributes)) == outcome
    assert delivery.calls == []


def test_an_event_too_old_to_matter_goes_to_the_dead_letter_topic_at_once():
    dead_letters: list[str] = []
    forwarder, log = make(PARTNER, RecordingDelivery(failing={"a"}), dead_letters)
    event = fresh_event("view")  # eventDate 2022: far past the one-day limit
    assert forwarder.handle(message(event)) == "dead_lettered"
    assert "too old" in dead_letters[0]
    assert log.entries_[f"{event['eventId']}:a"].status == DEAD_LETTERED
    assert log.entries_[f"{event['eventId']}:b"].status == DELIVERED


def test_an_old_event_that_is_delivered_is_simply_delivered():
    forwarder, _ = make(PARTNER, RecordingDelivery(), [])
    assert forwarder.handle(message(fresh_event("view"))) == "delivered"


def test_a_replay_is_retried_whatever_its_age():
    forwarder, _ = make(PARTNER, RecordingDelivery(failing={"a"}), [])
    with pytest.raises(DeliveryIncomplete):
        forwarder.handle(message(fresh_event("view"), replayFor="forward_webhook"))


def test_a_message_that_is_not_an_event_is_dead_lettered():
    dead_letters: list[str] = []
    forwarder, _ = make(PARTNER, RecordingDelivery(), dead_letters)
    assert forwarder.handle(PubSubMessage(b"not json", {}, "m-2")) == "dead_lettered"
    assert dead_letters[0].startswith("malformed")


def test_cloud_event_data_is_decoded():
    event = recent_event()
    data = {"message": {"data": base64.b64encode(encode_event(event)).decode(), "messageId": "7",
                        "attributes": {"eventId": event["eventId"], "flowId": "f-9"}}}
    forwarded = ForwardedEvent.from_message(PubSubMessage.from_cloud_event_data(data))
    assert forwarded.raw == encode_event(event) and forwarded.flow_id == "f-9"
    assert forwarded.whitelabel == "company-xpto" and forwarded.message.message_id == "7"
    with pytest.raises(MalformedEvent):
        PubSubMessage.from_cloud_event_data({"message": {"data": "***"}})


def test_object_name_uses_the_utc_date_of_event_date():
    event = fresh_event("view")
    event["eventDate"] = "2022-08-29T23:30:00-03:00"  # 2022-08-30 in UTC
    forwarded = ForwardedEvent.from_message(message(event))
    assert object_name("fpass/events/", forwarded) == \
        f"fpass/events/user.interaction/2022/08/30/{event['eventId']}.json"
    assert object_name("", forwarded) == f"user.interaction/2022/08/30/{event['eventId']}.json"


def test_the_body_is_forwarded_as_published():
    event = fresh_event("view")
    event["ownerData"] = {"tags": ["Nível ABC"]}
    raw = json.dumps(event, ensure_ascii=False, indent=1).encode("utf-8")
    assert ForwardedEvent.from_message(PubSubMessage(raw, {})).raw == raw
