"""Forwarding one event to the destinations of one kind of its partner.

Each forwarder function (forward_webhook, forward_mongodb, forward_gcs) gets every message of
topic ``events`` through its own push subscription. The rule it keeps: every event ends, at each
destination of its partner, either **delivered** or **held** with a reason (shared/forwarding/
holds.py). Nothing is acknowledged before one of these is durable:

1. a message meant for another forwarder (``replayFor``) is acknowledged at once; so is an event
   whose partner has destinations, none of this forwarder's kind (nothing is owed here);
2. an event whose partner is unknown or has no destination is held for the whole partner (its
   own delivery-log entry, one dead letter per forwarder); so is the event of a disabled or
   deleted partner, by the forwarders of the kinds its kept configuration has;
3. the eventId is claimed by the first event content that reaches a forwarder (the delivery log's
   ``deliveries/{eventId}``, shared by the three forwarders), and each destination's entry by the
   first message: a later message with the same content is a duplicate (skipped once delivered),
   an event with other content under the same eventId is held as ``event_id_conflict``;
4. each destination is attempted (in parallel when there are several), unless its circuit is
   open (shared/forwarding/destination_health.py); inside a push, an attempt waits only as long
   as the destination usually takes, so a partner that starts hanging does not hold the pushes
   every other partner's events come through;
5. a failed attempt is recorded as ``retrying`` with its next time (the retry policy), the event
   kept in the entry, and the message is acknowledged: the re-driver (shared/forwarding/redrive.py)
   makes the retry when it is due, outside the pushes, with the destination's full timeout. A
   permanent failure is held at once (``undeliverable_value``), the last attempt of the policy as
   ``max_attempts``.

The same class makes the retries inside the re-driver (``inline=False``): a retry is a message
with ``replayFor``, ``destinationId`` and ``redrive`` built from the delivery-log entry.

An event too large to keep in the delivery log is the one exception: its failed delivery fails
the invocation (DeliveryIncomplete, HTTP 503) and Pub/Sub retries it, until the attempt before
Pub/Sub's own dead-lettering, where the forwarder holds it itself.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from typing import Callable, Iterable, Protocol, TypeVar

from shared.forwarding.delivery_log import (
    DEAD_LETTERED,
    DELIVERED,
    DELIVERING,
    FAILED,
    REPLAYED,
    RETRYING,
    Attempt,
    Delivery,
    DeliveryLog,
    LogEntry,
    StoredEvent,
    entry_id,
    hold_entry_id,
    partner_target,
)
from shared.forwarding.destination_health import DestinationHealth
from shared.forwarding.holds import (
    DESTINATION_REMOVED,
    EVENT_ID_CONFLICT,
    MALFORMED,
    MAX_ATTEMPTS,
    NO_DESTINATIONS,
    NO_PARTNER,
    PARTNER_DELETED,
    PARTNER_DISABLED,
    UNDELIVERABLE_VALUE,
    DeadLetterSink,
    Hold,
)
from shared.forwarding.message import ForwardedEvent, MalformedEvent, PubSubMessage
from shared.forwarding.partners import Destination, Partner
from shared.forwarding.retry_policy import RetryPolicy
from shared.platform.clock import Clock, utc_now
from shared.platform.publisher import OutgoingMessage

logger = logging.getLogger(__name__)

# What happened to a message (returned for the wiring's logs and for tests).
NOT_FOR_THIS_FORWARDER = "not_for_this_forwarder"
NOTHING_OF_THIS_KIND = "nothing_of_this_kind"
HANDLED = "handled"  # every destination delivered, scheduled for a retry, skipped as a duplicate or held
HELD = "held"  # the whole event held (partner-level, malformed)

# What happened at one destination.
DELIVERED_NOW = "delivered"
SCHEDULED = "scheduled"
HELD_HERE = "held"
SKIPPED = "skipped"
LEFT_TO_PUBSUB = "left_to_pubsub"

# A re-drive whose entry shows this many earlier re-drives without an outcome means the forwarder
# fails while attempting this event (a crash, not an answer): it is held instead of sent again.
MAX_UNANSWERED_REDRIVES = 3

T = TypeVar("T")


class DeliveryIncomplete(Exception):
    """An event too large to keep for the re-driver failed: Pub/Sub retries it. The message names
    only destination ids (never URLs or secrets)."""

    def __init__(self, event_id: str, destination_ids: list[str]):
        super().__init__(f"event {event_id}: delivery failed at {', '.join(destination_ids)}; Pub/Sub retries it")
        self.destination_ids = destination_ids


class Deliverer(Protocol):
    kind: str

    def full_timeout(self, destination: Destination) -> float: ...

    def deliver(self, event: ForwardedEvent, destination: Destination,
                timeout_seconds: float | None = None) -> Attempt: ...


def partner_hold(partner: Partner | None, whitelabel: str | None) -> Hold | None:
    """Why an event of this partner cannot be delivered anywhere now, or None."""
    if partner is None:
        if not whitelabel:
            return Hold(NO_PARTNER, "the event names no partner (data.whitelabel or data.ownerWhitelabel)")
        return Hold(NO_PARTNER, f"no partner {whitelabel!r} is registered: replay once it is")
    if partner.deleted:
        return Hold(PARTNER_DELETED, f"partner {partner.whitelabel!r} was deleted")
    if partner.disabled:
        return Hold(PARTNER_DISABLED, f"partner {partner.whitelabel!r} is disabled: `partners enable` delivers "
                                      "what was held")
    if not partner.destinations:
        return Hold(NO_DESTINATIONS, f"partner {partner.whitelabel!r} has no destinations")
    return None


class Forwarder:
    def __init__(self, *, function_name: str, delivery: Deliverer, partners: Callable[[str], Partner | None],
                 log: DeliveryLog, dead_letters: DeadLetterSink, policy: RetryPolicy, health: DestinationHealth,
                 inline: bool, redrive_lease_seconds: float, pubsub_max_delivery_attempts: int,
                 executor: ThreadPoolExecutor, clock: Clock = utc_now,
                 monotonic: Callable[[], float] = time.monotonic):
        """``inline``: attempts are made while a Pub/Sub push waits (the forwarder functions),
        bounded by the destination's usual latency; otherwise (the re-driver) with full timeouts."""
        self.function_name = function_name
        self.kind = delivery.kind
        self._delivery = delivery
        self._partners = partners
        self._log = log
        self._dead_letters = dead_letters
        self._policy = policy
        self._health = health
        self._inline = inline
        self._monotonic = monotonic
        self._lease_seconds = redrive_lease_seconds
        self._pubsub_max_attempts = pubsub_max_delivery_attempts
        self._executor = executor
        self._clock = clock

    def handle(self, message: PubSubMessage) -> str:
        try:
            event = ForwardedEvent.from_message(message)
        except MalformedEvent as exc:
            self._dead_letters(OutgoingMessage(message.data, Hold(MALFORMED, str(exc)).attributes(
                message.attributes, self.function_name, None)))
            logger.error("not an event: held in the dead letters", extra={
                "flowId": message.attributes.get("flowId"), "messageId": message.message_id, "reason": MALFORMED,
                "detail": str(exc), "forwarder": self.function_name})
            return HELD
        if event.replay_for not in (None, self.function_name):
            return NOT_FOR_THIS_FORWARDER
        try:
            return self._handle(event)
        except DeliveryIncomplete:
            raise
        except Exception as exc:
            if (message.delivery_attempt or 0) >= self._pubsub_max_attempts:
                self._record_pubsub_dead_letter(event, exc)
            raise

    # -- the event as a whole ----------------------------------------------------------------

    def _handle(self, event: ForwardedEvent) -> str:
        partner = self._partners(event.whitelabel) if event.whitelabel else None
        hold = partner_hold(partner, event.whitelabel)
        whitelabel = partner.whitelabel if partner else event.whitelabel
        if hold is not None:
            if event.destination_id is not None:  # a retry or a replay for one destination
                return self._hold(event, self._delivery_of(event, whitelabel, event.destination_id),
                                  Hold(hold.reason, hold.detail, event.destination_id))
            if partner is not None and partner.destinations and not self._accepting(partner.destinations, event):
                # Disabled or deleted, its configuration kept: it never had a destination here.
                return NOTHING_OF_THIS_KIND
            return self._hold_partner(event, whitelabel, hold)
        assert partner is not None
        destinations = self._accepting(partner.destinations, event)
        if event.destination_id is not None:
            wanted = [d for d in destinations if d.id == event.destination_id]
            if not wanted:
                return self._hold(event, self._delivery_of(event, whitelabel, event.destination_id), Hold(
                    DESTINATION_REMOVED, f"partner {whitelabel!r} has no {self.kind} destination "
                                         f"{event.destination_id!r} taking {event.event_type!r} any more",
                    event.destination_id))
            destinations = wanted
        if not destinations:
            return NOTHING_OF_THIS_KIND
        stored = StoredEvent(event.raw, event.original_attributes())
        entries: dict[str, LogEntry | None]
        if event.replay_for is None and self._log.claim_new_event(
                [self._delivery_of(event, whitelabel, d.id) for d in destinations], stored, self._lease_seconds):
            # The usual message, an event seen for the first time: the eventId and every entry
            # claimed in one write, with nothing to read (the delivery log's healthy path).
            entries = dict.fromkeys((d.id for d in destinations), None)
        else:
            owner, entries = self._log.entries(event.event_id, [d.id for d in destinations])
            if owner is None:
                owner = self._log.claim_event(event.event_id, event.content_hash, whitelabel, self.function_name)
            if owner != event.content_hash:
                self._each(destinations, lambda d: self._hold_conflict(
                    event, self._delivery_of(event, whitelabel, d.id), owner))
                return HANDLED
        outcomes = self._each(destinations, lambda d: self._handle_destination(event, partner, d, entries[d.id], stored))
        left = [d.id for d, outcome in zip(destinations, outcomes) if outcome == LEFT_TO_PUBSUB]
        if left:
            raise DeliveryIncomplete(event.event_id, left)
        return HANDLED

    def _accepting(self, destinations: Iterable[Destination], event: ForwardedEvent) -> list[Destination]:
        """The destinations of this forwarder's kind that take this event's type."""
        return [d for d in destinations if d.kind == self.kind and d.accepts(event.event_type)]

    def _each(self, destinations: list[Destination], work: Callable[[Destination], T]) -> list[T]:
        if len(destinations) <= 1:
            return [work(d) for d in destinations]
        return list(self._executor.map(work, destinations))

    def _delivery_of(self, event: ForwardedEvent, whitelabel: str | None, destination_id: str) -> Delivery:
        return Delivery(event.event_id, destination_id, whitelabel, self.kind, self.function_name, event.content_hash)

    # -- one destination ---------------------------------------------------------------------

    def _handle_destination(self, event: ForwardedEvent, partner: Partner, destination: Destination,
                            entry: LogEntry | None, stored: StoredEvent) -> str:
        """``entry``: the destination's entry as read, or None when this message has just claimed it."""
        delivery = self._delivery_of(event, partner.whitelabel, destination.id)
        claimed = entry is None
        if entry is not None and not entry.exists:
            claimed = self._log.claim(delivery, stored, self._lease_seconds)
            if not claimed:  # another message claimed it first
                entry = self._log.entry(entry_id(event.event_id, destination.id))
        if claimed or entry is None:
            entry = LogEntry(True, DELIVERING, content_hash=event.content_hash)
        if entry.content_hash is not None and entry.content_hash != event.content_hash:
            return self._hold_conflict(event, delivery, entry.content_hash)
        skip = None if claimed else self._skip_reason(event, entry)
        if skip is not None:
            logger.info(skip, extra=self._fields(event, delivery, status=entry.status))
            return SKIPPED
        if event.is_redrive and entry.unanswered_redrives > MAX_UNANSWERED_REDRIVES:
            return self._hold(event, delivery, Hold(
                MAX_ATTEMPTS, f"re-driven {entry.unanswered_redrives} times without an outcome: the forwarder fails "
                              "while attempting this event (see its error logs)", destination.id))
        starts_round = claimed or event.is_operator_replay
        round_attempts = 1 if starts_round else entry.round_attempts + 1
        attempt = self._attempt(event, partner, destination)
        return self._settle(event, delivery, attempt, round_attempts, stored)

    def _skip_reason(self, event: ForwardedEvent, entry: LogEntry) -> str | None:
        """Why this message must not attempt a destination whose entry exists, or None."""
        if entry.status == DELIVERED:
            return "already delivered; skipped"
        if event.is_operator_replay:
            return None
        if entry.status in (DEAD_LETTERED, REPLAYED):
            return "held; skipped (its dead letter is what a replay delivers)"
        if entry.status == RETRYING and not event.is_redrive:
            return "a retry is already scheduled; skipped"
        if entry.status == DELIVERING and not event.is_redrive \
                and entry.next_attempt_at is not None and entry.next_attempt_at > self._clock():
            return "being delivered by another invocation; skipped"
        return None

    def _attempt(self, event: ForwardedEvent, partner: Partner, destination: Destination) -> Attempt:
        key = (partner.whitelabel, destination.id)
        refusal = self._health.refusal(key)
        if refusal is not None:
            return Attempt(False, refusal)
        full = self._delivery.full_timeout(destination)
        timeout = self._health.inline_timeout(key, full) if self._inline else full
        bounded = timeout < full
        started = self._monotonic()
        try:
            attempt = self._delivery.deliver(event, destination, timeout if bounded else None)
        except Exception as exc:  # a bug or an unforeseen client error fails this destination only
            logger.error("unexpected error delivering", exc_info=True,
                         extra={"flowId": event.flow_id, "eventId": event.event_id, "destinationId": destination.id})
            attempt = Attempt(False, f"unexpected error ({type(exc).__name__})")
        if attempt.permanent:
            self._health.release(key)
            return attempt
        if self._health.record(key, attempt.ok, self._monotonic() - started):
            expedited = self._log.expedite(partner.whitelabel, destination.id)
            logger.info("destination recovered: its pending retries are due now",
                        extra={"partner": partner.whitelabel, "destinationId": destination.id, "retries": expedited})
        if bounded and not attempt.ok:
            return replace(attempt, detail=f"{attempt.detail} (a first attempt waits {timeout:.1f} s, this "
                                           f"destination's usual latency; retries wait {full:g} s)")
        return attempt

    def _settle(self, event: ForwardedEvent, delivery: Delivery, attempt: Attempt, round_attempts: int,
                stored: StoredEvent) -> str:
        fields = self._fields(event, delivery, attempt=round_attempts, result=attempt.detail)
        if attempt.ok:
            self._log.record_attempt(delivery, attempt, round_attempts, status=DELIVERED)
            logger.info("delivered", extra=fields)
            return DELIVERED_NOW
        if attempt.permanent:
            return self._hold(event, delivery, Hold(UNDELIVERABLE_VALUE, attempt.detail, delivery.destination_id),
                              attempt, round_attempts)
        if self._policy.exhausted(round_attempts):
            return self._hold(event, delivery, Hold(
                MAX_ATTEMPTS, f"{round_attempts} attempts failed; the last: {attempt.detail}", delivery.destination_id),
                attempt, round_attempts)
        if stored.fields is None:
            return self._leave_to_pubsub(event, delivery, attempt, round_attempts)
        next_attempt_at = self._clock() + timedelta(seconds=self._policy.delay(round_attempts))
        self._log.record_attempt(delivery, attempt, round_attempts, status=RETRYING, next_attempt_at=next_attempt_at,
                                 stored=stored)
        logger.warning("delivery failed; retry scheduled", extra={**fields, "nextAttemptAt": next_attempt_at.isoformat()})
        return SCHEDULED

    def _leave_to_pubsub(self, event: ForwardedEvent, delivery: Delivery, attempt: Attempt, round_attempts: int) -> str:
        """An event too large to keep: Pub/Sub retries the message, and before it would dead-letter
        it (its own count, or ours where the push does not say) the forwarder holds it itself."""
        pushes = max(event.message.delivery_attempt or 0, round_attempts)
        if pushes >= self._pubsub_max_attempts:
            return self._hold(event, delivery, Hold(
                MAX_ATTEMPTS, f"{pushes} Pub/Sub deliveries failed (an event too large to keep for the re-driver); "
                              f"the last: {attempt.detail}", delivery.destination_id), attempt, round_attempts)
        self._log.record_attempt(delivery, attempt, round_attempts, status=FAILED)
        logger.warning("delivery failed; Pub/Sub retries it (too large to keep for the re-driver)",
                       extra=self._fields(event, delivery, attempt=round_attempts, result=attempt.detail))
        return LEFT_TO_PUBSUB

    # -- holds -------------------------------------------------------------------------------

    def _hold(self, event: ForwardedEvent, delivery: Delivery, hold: Hold, attempt: Attempt | None = None,
              round_attempts: int = 0) -> str:
        """Hold one destination's delivery: the dead letter first (if it cannot be published the
        message is not acknowledged), then the entry."""
        document_id = entry_id(event.event_id, delivery.destination_id)
        self._publish_hold(event, hold, document_id)
        if attempt is None:
            self._log.record_hold(document_id, delivery, hold)
        else:
            self._log.record_attempt(delivery, attempt, round_attempts, status=DEAD_LETTERED, hold=hold)
        self._log_hold(event, delivery, hold)
        return HELD_HERE

    def _hold_partner(self, event: ForwardedEvent, whitelabel: str | None, hold: Hold) -> str:
        target = partner_target(self.kind)
        self._hold_in_own_entry(event, self._delivery_of(event, whitelabel, target),
                                hold_entry_id(event.event_id, event.content_hash, target), hold)
        return HELD

    def _hold_conflict(self, event: ForwardedEvent, delivery: Delivery, owner_hash: str) -> str:
        hold = Hold(EVENT_ID_CONFLICT,
                    f"eventId {event.event_id} was first received with other content (contentHash "
                    f"{owner_hash[:16]}, this one {event.content_hash[:16]}); replay with "
                    "--fresh-event-ids to deliver it under a new eventId", delivery.destination_id)
        return self._hold_in_own_entry(event, delivery, hold_entry_id(event.event_id, event.content_hash,
                                                                      delivery.destination_id), hold)

    def _hold_in_own_entry(self, event: ForwardedEvent, delivery: Delivery, document_id: str, hold: Hold) -> str:
        """A hold with its own entry (the whole partner, or a conflict): a duplicate of a message
        already held is not held twice, unless it is a replay (its dead letter is gone)."""
        if not event.is_operator_replay and self._log.entry(document_id).status == DEAD_LETTERED:
            logger.info("already held; skipped", extra=self._fields(event, delivery, reason=hold.reason))
            return SKIPPED
        self._publish_hold(event, hold, document_id)
        self._log.record_hold(document_id, delivery, hold)
        self._log_hold(event, delivery, hold)
        return HELD_HERE

    def _publish_hold(self, event: ForwardedEvent, hold: Hold, document_id: str) -> None:
        self._dead_letters(OutgoingMessage(event.raw, hold.attributes(event.original_attributes(),
                                                                      self.function_name, document_id)))

    def _record_pubsub_dead_letter(self, event: ForwardedEvent, error: Exception) -> None:
        """This was Pub/Sub's last push and the invocation fails: Pub/Sub dead-letters the
        message, so the delivery log says so (best effort: the failure may be Firestore's)."""
        target = partner_target(self.kind)
        delivery = self._delivery_of(event, event.whitelabel, target)
        hold = Hold(MAX_ATTEMPTS, f"Pub/Sub dead-letters it after {event.message.delivery_attempt} deliveries; "
                                  f"the last failed with {type(error).__name__}")
        try:
            self._log.record_hold(hold_entry_id(event.event_id, event.content_hash, target), delivery, hold)
        except Exception:
            logger.error("could not record Pub/Sub's dead-lettering in the delivery log", exc_info=True,
                         extra={"flowId": event.flow_id, "eventId": event.event_id})
            return
        self._log_hold(event, delivery, hold)

    # -- logs --------------------------------------------------------------------------------

    def _fields(self, event: ForwardedEvent, delivery: Delivery, **more: object) -> dict[str, object]:
        return {"flowId": event.flow_id, "eventId": event.event_id, "partner": delivery.partner,
                "destinationId": delivery.destination_id, "kind": self.kind, "forwarder": self.function_name,
                "messageId": event.message.message_id, **more}

    def _log_hold(self, event: ForwardedEvent, delivery: Delivery, hold: Hold) -> None:
        logger.warning("event held", extra=self._fields(event, delivery, reason=hold.reason, detail=hold.detail))
