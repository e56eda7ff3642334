"""Forwarding one event to the destinations of one kind of its partner.

Each forwarder function (forward_webhook, forward_mongodb, forward_gcs) gets every message of
topic ``events`` through its own push subscription and:

1. acknowledges at once a message it has nothing to do with: a replay meant for another
   forwarder, an event whose partner is unknown or disabled or has no destination of its kind
   (the emulator ignores subscription filters, so this check is what makes it correct);
2. skips the destinations whose delivery log says delivered (a redelivered message);
3. delivers to the others (in parallel when there are several) and logs each attempt;
4. when any failed, fails the invocation (DeliveryIncomplete) so Pub/Sub retries with backoff and
   dead-letters after the maximum attempts; an event already older than the configured age
   goes to this forwarder's dead-letter topic at once instead. A message that can never be
   delivered (not an event) goes there at once too.

Acknowledging is returning: nothing is acknowledged before every destination confirmed.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Callable, Protocol

from shared.forwarding.delivery_log import DEAD_LETTERED, Attempt, DeliveryLog
from shared.forwarding.message import ForwardedEvent, MalformedEvent, PubSubMessage
from shared.forwarding.partners import Destination, Partner

logger = logging.getLogger(__name__)

# What happened to a message that was acknowledged (returned for logs and tests).
NOT_FOR_THIS_FORWARDER = "not_for_this_forwarder"
NO_PARTNER = "no_partner"
NO_DESTINATIONS = "no_destinations"
DELIVERED = "delivered"
DEAD_LETTERED_NOW = "dead_lettered"

REASON_ATTRIBUTE = "deadLetterReason"
SOURCE_ATTRIBUTE = "deadLetterSource"


class DeliveryIncomplete(Exception):
    """Some destinations failed; the message names only destination ids (never URLs or secrets)."""

    def __init__(self, event_id: str, destination_ids: list[str]):
        super().__init__(f"event {event_id}: delivery failed at {', '.join(destination_ids)}; Pub/Sub retries it")
        self.destination_ids = destination_ids


class Delivery(Protocol):
    kind: str

    def deliver(self, event: ForwardedEvent, destination: Destination) -> Attempt: ...


class Forwarder:
    def __init__(self, *, function_name: str, delivery: Delivery, partners: Callable[[str], Partner | None],
                 log: DeliveryLog, dead_letter: Callable[[PubSubMessage, str], None],
                 max_event_age_seconds: float, executor: ThreadPoolExecutor,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.function_name = function_name
        self.kind = delivery.kind
        self._delivery = delivery
        self._partners = partners
        self._log = log
        self._dead_letter = dead_letter
        self._max_age = timedelta(seconds=max_event_age_seconds)
        self._executor = executor
        self._clock = clock

    def handle(self, message: PubSubMessage) -> str:
        try:
            event = ForwardedEvent.from_message(message)
        except MalformedEvent as exc:
            self._dead_letter(message, f"malformed: {exc}")
            logger.error("malformed message sent to the dead-letter topic",
                         extra={"flowId": message.attributes.get("flowId"), "messageId": message.message_id,
                                "reason": str(exc), "forwarder": self.function_name})
            return DEAD_LETTERED_NOW
        if event.replay_for not in (None, self.function_name):
            return NOT_FOR_THIS_FORWARDER
        partner = self._partners(event.whitelabel) if event.whitelabel else None
        if partner is None:
            return NO_PARTNER
        destinations = [d for d in partner.destinations_of(self.kind) if d.accepts(event.event_type)]
        if not destinations:
            return NO_DESTINATIONS
        entries = self._log.entries(event.event_id, [d.id for d in destinations])
        pending = [d for d in destinations if not entries[d.id].delivered]
        for skipped in (d for d in destinations if entries[d.id].delivered):
            logger.info("already delivered; skipped",
                        extra={"flowId": event.flow_id, "eventId": event.event_id, "partner": partner.whitelabel,
                               "destinationId": skipped.id, "kind": self.kind, "messageId": message.message_id})
        attempts = self._deliver_all(event, pending)
        failed = [d for d, attempt in zip(pending, attempts) if not attempt.ok]
        too_old = failed and self._too_old(event)
        for destination, attempt in zip(pending, attempts):
            status = DEAD_LETTERED if too_old and not attempt.ok else None
            count = self._log.record(event.event_id, destination.id, partner=partner.whitelabel, kind=self.kind,
                                     attempt=attempt, previous=entries[destination.id], status=status)
            self._log_attempt(event, partner, destination, attempt, count)
        if not failed:
            return DELIVERED
        if too_old:
            self._dead_letter(message, f"too old: eventDate {event.body.get('eventDate')} is past the "
                                       f"{self._max_age.total_seconds():g} s age limit")
            logger.warning("event too old to retry: sent to the dead-letter topic",
                           extra={"flowId": event.flow_id, "eventId": event.event_id, "partner": partner.whitelabel,
                                  "forwarder": self.function_name, "destinations": [d.id for d in failed]})
            return DEAD_LETTERED_NOW
        raise DeliveryIncomplete(event.event_id, [d.id for d in failed])

    def _deliver_all(self, event: ForwardedEvent, destinations: list[Destination]) -> list[Attempt]:
        if len(destinations) <= 1:
            return [self._deliver_one(event, d) for d in destinations]
        return list(self._executor.map(lambda d: self._deliver_one(event, d), destinations))

    def _deliver_one(self, event: ForwardedEvent, destination: Destination) -> Attempt:
        try:
            return self._delivery.deliver(event, destination)
        except Exception as exc:  # a bug or an unforeseen client error fails this destination only
            return Attempt(False, f"unexpected error ({type(exc).__name__})")

    def _too_old(self, event: ForwardedEvent) -> bool:
        # A replay is an operator's explicit decision: it gets the normal retries whatever its age.
        return (event.replay_for is None and event.event_date is not None
                and self._clock() - event.event_date > self._max_age)

    def _log_attempt(self, event: ForwardedEvent, partner: Partner, destination: Destination, attempt: Attempt,
                     count: int) -> None:
        fields = dict(flowId=event.flow_id, eventId=event.event_id, partner=partner.whitelabel,
                      destinationId=destination.id, kind=self.kind, attempt=count, result=attempt.detail)
        if attempt.ok:
            logger.info("delivered", extra=fields)
        else:
            logger.warning("delivery failed", extra=fields)


def dead_letter_attributes(message: PubSubMessage, reason: str, source: str) -> dict[str, str]:
    return {**message.attributes, REASON_ATTRIBUTE: reason[:1000], SOURCE_ATTRIBUTE: source}
