"""The forwarder's decisions, with the destination, the delivery log and the dead-letter topic
replaced by recorders. The same paths run against the emulators in tests/integration/."""

from __future__ import annotations

import base64
import json
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from shared.events.message import encode_event
from shared.forwarding.delivery_log import (
    DEAD_LETTERED,
    DELIVERED,
    DELIVERING,
    FAILED,
    MAX_STORED_EVENT_BYTES,
    RETRYING,
    Attempt,
    LogEntry,
    StoredEvent,
    entry_id,
    hold_entry_id,
)
from shared.forwarding.destination_health import DestinationHealth
from shared.forwarding.destinations.gcs import object_name
from shared.forwarding.forwarder import (
    HANDLED,
    HELD,
    NOT_FOR_THIS_FORWARDER,
    NOTHING_OF_THIS_KIND,
    DeliveryIncomplete,
    Forwarder,
)
from shared.forwarding.holds import ENTRY_ATTRIBUTE, REASON_ATTRIBUTE
from shared.forwarding.message import (
    DESTINATION_ATTRIBUTE,
    ForwardedEvent,
    MalformedEvent,
    PubSubMessage,
    content_hash,
    fresh_event_id,
)
from shared.forwarding.partners import GcsDestination, Partner, PartnerLookup, WebhookDestination
from shared.forwarding.retry_policy import RetryPolicy
from tests.conftest import fresh_event

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
POLICY = RetryPolicy(max_attempts=4, min_backoff_seconds=10, max_backoff_seconds=60, random=lambda: 1.0)


def hook(hook_id: str, event_types: tuple[str, ...] | None = None) -> WebhookDestination:
    return WebhookDestination(hook_id, "webhook", event_types, f"https://p.example/{hook_id}", ("env:S",), 10.0)


class RecordingDelivery:
    kind = "webhook"

    def __init__(self, failing: set[str] = frozenset(), permanent: set[str] = frozenset()):
        self.failing = set(failing)
        self.permanent = set(permanent)
        self.calls: list[str] = []
        self.timeouts: list[float | None] = []

    @staticmethod
    def full_timeout(destination):
        return destination.timeout_seconds

    def deliver(self, event, destination, timeout_seconds=None):
        self.calls.append(destination.id)
        self.timeouts.append(timeout_seconds)
        if destination.id in self.permanent:
            return Attempt(False, "a value BSON cannot hold", permanent=True)
        if destination.id in self.failing:
            return Attempt(False, "HTTP 503", 503)
        return Attempt(True, "HTTP 200", 200)


class MemoryLog:
    """The DeliveryLog's interface over a dict of documents."""

    def __init__(self):
        self.docs: dict[str, dict] = {}

    def _entry(self, document_id):
        doc = self.docs.get(document_id)
        if doc is None:
            return LogEntry(False)
        return LogEntry(True, doc["status"], doc.get("attempts", 0), doc.get("roundAttempts", 0),
                        doc.get("contentHash"), doc.get("unansweredRedrives", 0), doc.get("nextAttemptAt"))

    def entries(self, event_id, destination_ids):
        owner = self.docs.get(event_id, {}).get("contentHash")
        return owner, {d: self._entry(entry_id(event_id, d)) for d in destination_ids}

    def claim_event(self, event_id, content_hash, partner, forwarder):
        return self.docs.setdefault(event_id, {"contentHash": content_hash})["contentHash"]

    def entry(self, document_id):
        return self._entry(document_id)

    def claim_new_event(self, deliveries, stored, lease_seconds):
        first = deliveries[0]
        ids = [first.event_id] + [entry_id(d.event_id, d.destination_id) for d in deliveries]
        if any(document_id in self.docs for document_id in ids):
            return False
        self.claim_event(first.event_id, first.content_hash, first.partner, first.forwarder)
        return all([self.claim(delivery, stored, lease_seconds) for delivery in deliveries])

    def claim(self, delivery, stored, lease_seconds):
        document_id = entry_id(delivery.event_id, delivery.destination_id)
        if document_id in self.docs:
            return False
        self.docs[document_id] = {**delivery.identity(), "status": DELIVERING, "attempts": 0,
                                  "nextAttemptAt": NOW + timedelta(seconds=lease_seconds) if stored.fields else None}
        return True

    def record_attempt(self, delivery, attempt, round_attempts, *, status, next_attempt_at=None, stored=None,
                       hold=None):
        doc = self.docs.setdefault(entry_id(delivery.event_id, delivery.destination_id), {})
        doc.update(delivery.identity(), status=status, attempts=doc.get("attempts", 0) + 1,
                   roundAttempts=round_attempts, lastResult=attempt.detail, nextAttemptAt=next_attempt_at,
                   stored=stored if status == RETRYING else None, unansweredRedrives=0,
                   reason=hold.reason if hold else None)

    def expedite(self, partner, destination_id):
        due = [d for d in self.docs.values() if d.get("partner") == partner
               and d.get("destinationId") == destination_id and d.get("status") == RETRYING]
        for doc in due:
            doc["nextAttemptAt"] = NOW
        return len(due)

    def record_hold(self, document_id, delivery, hold):
        self.docs.setdefault(document_id, {}).update(delivery.identity(), status=DEAD_LETTERED, reason=hold.reason,
                                                     detail=hold.detail, nextAttemptAt=None)

    def doc(self, event_id, destination_id):
        return self.docs[entry_id(event_id, destination_id)]


def health(failure_threshold: int = 100, clock=lambda: 0.0) -> DestinationHealth:
    return DestinationHealth(failure_threshold=failure_threshold, open_seconds=10, max_open_seconds=40,
                             min_inline_seconds=0.5, clock=clock)


class Setup:
    def __init__(self, partner: Partner | None, delivery: RecordingDelivery | None = None,
                 destination_health: DestinationHealth | None = None, inline: bool = True):
        self.partner = partner
        self.delivery = delivery or RecordingDelivery()
        self.log = MemoryLog()
        self.dead_letters: list = []
        self.forwarder = Forwarder(
            function_name="forward_webhook", delivery=self.delivery,
            partners=lambda w: self.partner if self.partner and w == self.partner.whitelabel else None,
            log=self.log, dead_letters=self.dead_letters.append, policy=POLICY,
            health=destination_health or health(), inline=inline, redrive_lease_seconds=300,
            pubsub_max_delivery_attempts=5, executor=ThreadPoolExecutor(2), clock=lambda: NOW)

    def reasons(self) -> list[tuple[str, str | None]]:
        return [(m.attributes[REASON_ATTRIBUTE], m.attributes.get(DESTINATION_ATTRIBUTE)) for m in self.dead_letters]


def message(event: dict, delivery_attempt: int | None = None, **attributes: str) -> PubSubMessage:
    return PubSubMessage(encode_event(event), {"eventId": event["eventId"], "flowId": "f-1", **attributes}, "m-1",
                         delivery_attempt)


def redrive(event: dict, destination_id: str, attempt: int = 2) -> PubSubMessage:
    return message(event, replayFor="forward_webhook", destinationId=destination_id, redrive=str(attempt))


PARTNER = Partner("company-xpto", "XPTO", False, (hook("a"), hook("b"), GcsDestination("g", "gcs", None, "bkt", "")))


def test_delivers_to_every_destination_of_its_kind_only():
    setup = Setup(PARTNER)
    event = fresh_event("view")
    assert setup.forwarder.handle(message(event)) == HANDLED
    assert sorted(setup.delivery.calls) == ["a", "b"]
    assert {setup.log.doc(event["eventId"], d)["status"] for d in "ab"} == {DELIVERED}
    assert setup.dead_letters == []


def test_a_failed_destination_is_scheduled_and_the_message_acknowledged():
    setup = Setup(PARTNER, RecordingDelivery(failing={"b"}))
    event = fresh_event("view")
    assert setup.forwarder.handle(message(event)) == HANDLED  # no exception: acknowledged
    doc = setup.log.doc(event["eventId"], "b")
    assert doc["status"] == RETRYING and doc["roundAttempts"] == 1
    assert doc["nextAttemptAt"] == NOW + timedelta(seconds=10)
    assert doc["stored"].data == encode_event(event) and "redrive" not in doc["stored"].attributes
    assert setup.log.doc(event["eventId"], "a")["status"] == DELIVERED


def test_a_redrive_attempts_its_destination_only_and_a_duplicate_does_not_attempt_at_all():
    setup = Setup(PARTNER, RecordingDelivery(failing={"b"}))
    event = fresh_event("view")
    setup.forwarder.handle(message(event))
    setup.forwarder.handle(message(event))  # Pub/Sub's duplicate of the original: a retry is scheduled
    assert sorted(setup.delivery.calls) == ["a", "b"]
    setup.delivery.failing.clear()
    assert setup.forwarder.handle(redrive(event, "b")) == HANDLED
    assert sorted(setup.delivery.calls) == ["a", "b", "b"]
    doc = setup.log.doc(event["eventId"], "b")
    assert doc["status"] == DELIVERED and doc["attempts"] == 2 and doc["roundAttempts"] == 2


def test_the_backoff_grows_and_the_last_attempt_holds_the_event():
    setup = Setup(PARTNER, RecordingDelivery(failing={"a"}))
    event = fresh_event("view")
    setup.forwarder.handle(message(event))
    waits = [setup.log.doc(event["eventId"], "a")["nextAttemptAt"] - NOW]
    for attempt in (2, 3):
        setup.forwarder.handle(redrive(event, "a", attempt))
        waits.append(setup.log.doc(event["eventId"], "a")["nextAttemptAt"] - NOW)
    assert waits == [timedelta(seconds=10), timedelta(seconds=20), timedelta(seconds=40)]
    setup.forwarder.handle(redrive(event, "a", 4))
    doc = setup.log.doc(event["eventId"], "a")
    assert doc["status"] == DEAD_LETTERED and doc["reason"] == "max_attempts" and doc["roundAttempts"] == 4
    assert setup.reasons() == [("max_attempts", "a")]
    assert setup.dead_letters[0].attributes[ENTRY_ATTRIBUTE] == f"{event['eventId']}:a"


def test_a_permanent_failure_is_held_at_once():
    setup = Setup(PARTNER, RecordingDelivery(permanent={"a"}))
    event = fresh_event("view")
    setup.forwarder.handle(message(event))
    assert setup.log.doc(event["eventId"], "a")["reason"] == "undeliverable_value"
    assert setup.reasons() == [("undeliverable_value", "a")]
    assert setup.delivery.calls.count("a") == 1


@pytest.mark.parametrize("partner, reason", [
    (None, "no_partner"),
    (Partner("company-xpto", "XPTO", True, (hook("a"),)), "partner_disabled"),
    (Partner("company-xpto", "XPTO", False, (hook("a"),), deleted=True), "partner_deleted"),
    (Partner("company-xpto", "XPTO", False, ()), "no_destinations"),
])
def test_an_event_its_partner_cannot_take_is_held_for_the_whole_partner_once(partner, reason):
    setup = Setup(partner)
    event = fresh_event("view")
    assert setup.forwarder.handle(message(event)) == HELD
    assert setup.forwarder.handle(message(event)) == HELD  # a duplicate is not held twice
    assert setup.reasons() == [(reason, None)]
    marker = setup.log.docs[hold_entry_id(event["eventId"], content_hash(event), "*webhook")]
    assert marker["status"] == DEAD_LETTERED and marker["reason"] == reason
    assert setup.delivery.calls == []
    # A replay of it while the partner is still not there is held again (its dead letter is gone).
    assert setup.forwarder.handle(message(event, replayFor="forward_webhook")) == HELD
    assert len(setup.dead_letters) == 2


def test_a_disabled_partner_is_held_only_where_its_configuration_has_destinations():
    setup = Setup(Partner("company-xpto", "XPTO", True, (GcsDestination("g", "gcs", None, "bkt", ""),)))
    assert setup.forwarder.handle(message(fresh_event("view"))) == NOTHING_OF_THIS_KIND
    assert setup.dead_letters == []


def test_a_retry_due_while_the_partner_is_disabled_is_held_at_its_destination():
    setup = Setup(PARTNER, RecordingDelivery(failing={"a"}))
    event = fresh_event("view")
    setup.forwarder.handle(message(event))
    setup.partner = Partner("company-xpto", "XPTO", True, PARTNER.destinations)
    setup.forwarder.handle(redrive(event, "a"))
    assert setup.log.doc(event["eventId"], "a")["reason"] == "partner_disabled"
    assert setup.reasons() == [("partner_disabled", "a")]


def test_a_retry_for_a_destination_removed_since_is_held():
    setup = Setup(PARTNER, RecordingDelivery(failing={"a"}))
    event = fresh_event("view")
    setup.forwarder.handle(message(event))
    setup.partner = Partner("company-xpto", "XPTO", False, (hook("b"),))
    setup.forwarder.handle(redrive(event, "a"))
    assert setup.reasons() == [("destination_removed", "a")]
    assert setup.delivery.calls == ["a", "b"]


def test_nothing_is_owed_where_the_partner_has_no_destination_of_this_kind():
    setup = Setup(Partner("company-xpto", "XPTO", False, (GcsDestination("g", "gcs", None, "bkt", ""),)))
    assert setup.forwarder.handle(message(fresh_event("view"))) == NOTHING_OF_THIS_KIND
    setup.partner = Partner("company-xpto", "XPTO", False, (hook("a", ("other.type",)),))
    assert setup.forwarder.handle(message(fresh_event("view"))) == NOTHING_OF_THIS_KIND
    assert setup.dead_letters == [] and setup.log.docs == {}


def test_a_message_for_another_forwarder_is_not_touched():
    setup = Setup(PARTNER)
    assert setup.forwarder.handle(message(fresh_event("view"), replayFor="forward_gcs")) == NOT_FOR_THIS_FORWARDER
    assert setup.delivery.calls == []


def test_another_event_reusing_an_event_id_is_held_as_a_conflict_and_the_original_untouched():
    setup = Setup(PARTNER)
    view, leave = fresh_event("view"), fresh_event("leave")
    leave["eventId"] = view["eventId"]
    setup.forwarder.handle(message(view))
    original = dict(setup.log.doc(view["eventId"], "a"))
    setup.forwarder.handle(message(leave))
    setup.forwarder.handle(message(leave))  # its duplicate is not held twice
    assert sorted(setup.reasons()) == [("event_id_conflict", "a"), ("event_id_conflict", "b")]
    assert setup.log.doc(view["eventId"], "a") == original
    conflict = setup.log.docs[hold_entry_id(view["eventId"], content_hash(leave), "a")]
    assert conflict["status"] == DEAD_LETTERED and conflict["contentHash"] == content_hash(leave)
    assert sorted(setup.delivery.calls) == ["a", "b"]


def test_the_content_another_forwarder_claimed_first_owns_the_event_id_here_too():
    setup = Setup(PARTNER)
    view, leave = fresh_event("view"), fresh_event("leave")
    leave["eventId"] = view["eventId"]
    setup.log.docs[view["eventId"]] = {"contentHash": content_hash(view)}  # forward_gcs got view first
    setup.forwarder.handle(message(leave))
    assert setup.delivery.calls == []
    assert sorted(setup.reasons()) == [("event_id_conflict", "a"), ("event_id_conflict", "b")]


def test_the_same_event_with_its_keys_in_another_order_is_a_duplicate():
    setup = Setup(PARTNER)
    event = fresh_event("view")
    setup.forwarder.handle(message(event))
    reordered = dict(reversed(list(event.items())))
    assert encode_event(reordered) != encode_event(event)
    setup.forwarder.handle(message(reordered))
    assert setup.dead_letters == [] and sorted(setup.delivery.calls) == ["a", "b"]


def test_an_operator_replay_of_a_held_delivery_starts_a_new_round():
    setup = Setup(PARTNER, RecordingDelivery(failing={"a"}))
    event = fresh_event("view")
    setup.forwarder.handle(message(event))
    for attempt in (2, 3, 4):
        setup.forwarder.handle(redrive(event, "a", attempt))
    assert setup.log.doc(event["eventId"], "a")["status"] == DEAD_LETTERED
    setup.forwarder.handle(message(event))  # Pub/Sub's duplicate: still held
    assert setup.delivery.calls.count("a") == 4
    setup.forwarder.handle(message(event, replayFor="forward_webhook", destinationId="a"))
    doc = setup.log.doc(event["eventId"], "a")
    assert doc["status"] == RETRYING and doc["roundAttempts"] == 1 and doc["attempts"] == 5


def test_an_open_circuit_skips_the_attempt_and_reschedules():
    setup = Setup(PARTNER, RecordingDelivery(failing={"a", "b"}), health(failure_threshold=2))
    events = [fresh_event("view") for _ in range(3)]
    for event in events:
        setup.forwarder.handle(message(event))
    assert setup.delivery.calls.count("a") == 2  # the third was not attempted
    third = setup.log.doc(events[2]["eventId"], "a")
    assert third["status"] == RETRYING and third["lastResult"].startswith("not attempted: circuit open")


def test_a_circuit_opens_probes_with_a_doubling_period_and_closes():
    now = [0.0]
    destinations = health(failure_threshold=2, clock=lambda: now[0])
    destinations.record("d", False, 0.1)
    assert destinations.refusal("d") is None
    destinations.record("d", False, 0.1)
    assert "circuit open" in destinations.refusal("d")
    now[0] = 11
    assert destinations.refusal("d") is None  # the probe
    assert "half-open" in destinations.refusal("d")
    destinations.record("d", False, 0.1)  # the probe failed: open twice as long
    now[0] = 29
    assert "circuit open" in destinations.refusal("d")
    now[0] = 32
    assert destinations.refusal("d") is None
    assert destinations.record("d", True, 0.1) is True  # recovered
    assert destinations.refusal("d") is None and destinations.refusal("d") is None
    assert destinations.record("d", True, 0.1) is False


def test_attempts_in_flight_when_a_circuit_opened_do_not_extend_it():
    now = [0.0]
    destinations = health(failure_threshold=2, clock=lambda: now[0])
    for _ in range(8):  # eight attempts were in flight when the endpoint started hanging
        destinations.record("d", False, 5.0)
    now[0] = 11
    assert destinations.refusal("d") is None  # probed after the first period, not 2**7 of them


def test_a_recovered_destination_brings_its_pending_retries_forward():
    now = [0.0]
    setup = Setup(PARTNER, RecordingDelivery(failing={"a"}), health(failure_threshold=1, clock=lambda: now[0]))
    events = [fresh_event("view") for _ in range(3)]
    setup.forwarder.handle(message(events[0]))  # fails: the circuit opens
    setup.forwarder.handle(message(events[1]))  # not attempted
    assert setup.delivery.calls.count("a") == 1
    setup.log.doc(events[1]["eventId"], "a")["nextAttemptAt"] = NOW + timedelta(hours=1)
    setup.delivery.failing.clear()
    now[0] = 11  # the circuit's period is over: the next attempt is the probe
    setup.forwarder.handle(message(events[2]))
    assert setup.log.doc(events[1]["eventId"], "a")["nextAttemptAt"] == NOW


def test_a_first_attempt_waits_what_the_destination_usually_takes_and_a_retry_its_full_timeout():
    destinations = health()
    assert destinations.inline_timeout("d", 10.0) == 10.0  # nothing known yet
    for _ in range(3):
        destinations.record("d", True, 0.02)
    assert destinations.inline_timeout("d", 10.0) == 0.5  # 10 x 20 ms, at least the floor
    for _ in range(20):
        destinations.record("d", True, 3.0)
    assert 9.0 < destinations.inline_timeout("d", 10.0) <= 10.0  # a slow partner keeps its time

    fast = health()
    for _ in range(3):
        fast.record(("company-xpto", "a"), True, 0.01)
    setup = Setup(PARTNER, RecordingDelivery(failing={"a"}), fast)
    event = fresh_event("view")
    setup.forwarder.handle(message(event))
    assert dict(zip(setup.delivery.calls, setup.delivery.timeouts)) == {"a": 0.5, "b": None}
    assert "a first attempt waits 0.5 s" in setup.log.doc(event["eventId"], "a")["lastResult"]
    retries = Setup(PARTNER, RecordingDelivery(), fast, inline=False)
    retries.forwarder.handle(redrive(event, "a"))
    assert retries.delivery.timeouts == [None]


def test_an_event_too_large_to_keep_is_left_to_pubsub_then_held_before_pubsub_would():
    setup = Setup(PARTNER, RecordingDelivery(failing={"a"}))
    event = fresh_event("view")
    event["blob"] = base64.b64encode(os.urandom(MAX_STORED_EVENT_BYTES)).decode()  # incompressible
    assert StoredEvent(encode_event(event), {}).fields is None
    with pytest.raises(DeliveryIncomplete) as raised:
        setup.forwarder.handle(message(event))
    assert raised.value.destination_ids == ["a"] and "p.example" not in str(raised.value)
    assert setup.log.doc(event["eventId"], "a")["status"] == FAILED
    setup.forwarder.handle(message(event, delivery_attempt=5))
    assert setup.log.doc(event["eventId"], "a")["reason"] == "max_attempts"
    assert setup.reasons() == [("max_attempts", "a")]


def test_a_failure_on_pubsubs_last_push_is_recorded_as_dead_lettered():
    setup = Setup(PARTNER)

    def broken(*_args, **_kwargs):
        raise RuntimeError("Firestore unavailable")

    setup.log.entries = setup.log.claim_new_event = broken
    event = fresh_event("view")
    with pytest.raises(RuntimeError):
        setup.forwarder.handle(message(event, delivery_attempt=4))
    assert setup.log.docs == {}
    with pytest.raises(RuntimeError):
        setup.forwarder.handle(message(event, delivery_attempt=5))
    marker = setup.log.docs[hold_entry_id(event["eventId"], content_hash(event), "*webhook")]
    assert marker["status"] == DEAD_LETTERED and marker["reason"] == "max_attempts"


def test_re_drives_that_never_produce_an_outcome_end_in_a_hold():
    setup = Setup(PARTNER, RecordingDelivery(failing={"a"}))
    event = fresh_event("view")
    setup.forwarder.handle(message(event))
    setup.log.doc(event["eventId"], "a")["unansweredRedrives"] = 4
    setup.forwarder.handle(redrive(event, "a"))
    assert setup.reasons() == [("max_attempts", "a")]
    assert setup.delivery.calls.count("a") == 1


def test_a_message_that_is_not_an_event_is_held():
    setup = Setup(PARTNER)
    assert setup.forwarder.handle(PubSubMessage(b"not json", {"flowId": "f"}, "m-2")) == HELD
    assert setup.reasons() == [("malformed", None)]


def test_retry_policy_schedule():
    policy = RetryPolicy(30, 10, 600, random=lambda: 0.0)
    assert [policy.ceiling(n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 320, 600, 600]
    assert policy.delay(1) == 5 and RetryPolicy(30, 10, 600, random=lambda: 1.0).delay(1) == 10
    assert not policy.exhausted(29) and policy.exhausted(30)


def test_partner_lookup_caches_only_partners_that_receive_events():
    reads: list[str] = []
    registry = {"on": PARTNER, "off": Partner("off", "Off", True, (hook("a"),))}

    def read(whitelabel):
        reads.append(whitelabel)
        return registry.get(whitelabel)

    lookup = PartnerLookup(read, ttl_seconds=60, clock=lambda: 0.0)
    for _ in range(2):
        lookup.get("on"), lookup.get("off"), lookup.get("new")
    assert reads == ["on", "off", "new", "off", "new"]
    registry["new"] = PARTNER
    assert lookup.get("new") is PARTNER  # registered a moment ago: found at once


def test_content_hash_and_fresh_event_ids():
    event = fresh_event("view")
    assert content_hash(event) == content_hash(json.loads(json.dumps(event, indent=2, sort_keys=True)))
    assert content_hash(event) != content_hash({**event, "eventType": "other"})
    fresh = fresh_event_id(event["eventId"], content_hash(event))
    assert uuid.UUID(fresh).version == 4 and fresh == fresh_event_id(event["eventId"], content_hash(event))
    assert fresh != fresh_event_id(event["eventId"], content_hash({**event, "x": 1}))


def test_cloud_event_data_is_decoded():
    event = fresh_event("view")
    data = {"message": {"data": base64.b64encode(encode_event(event)).decode(), "messageId": "7",
                        "attributes": {"eventId": event["eventId"], "flowId": "f-9"}}}
    forwarded = ForwardedEvent.from_message(PubSubMessage.from_cloud_event_data(data, delivery_attempt=3))
    assert forwarded.raw == encode_event(event) and forwarded.flow_id == "f-9"
    assert forwarded.whitelabel == "company-xpto" and forwarded.message.message_id == "7"
    assert forwarded.message.delivery_attempt == 3
    with pytest.raises(MalformedEvent):
        PubSubMessage.from_cloud_event_data({"message": {"data": "***"}})


def test_object_name_uses_the_utc_date_of_event_date():
    event = fresh_event("view")
    event["eventDate"] = "2022-08-29T23:30:00-03:00"  # 2022-08-30 in UTC
    forwarded = ForwardedEvent.from_message(message(event))
    assert object_name("fpass/events/", forwarded) == \
        f"fpass/events/user.interaction/2022/08/30/{event['eventId']}.json"
    assert object_name("", forwarded) == f"user.interaction/2022/08/30/{event['eventId']}.json"
    with pytest.raises(ValueError, match="1024"):
        object_name("p" * 1000, forwarded)


def test_the_body_is_forwarded_as_published():
    event = fresh_event("view")
    event["ownerData"] = {"tags": ["Nível ABC"]}
    raw = json.dumps(event, ensure_ascii=False, indent=1).encode("utf-8")
    assert ForwardedEvent.from_message(PubSubMessage(raw, {})).raw == raw
