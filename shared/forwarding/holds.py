"""Holds: an event a forwarder cannot deliver now is held, never dropped.

A held event is published to the forwarder's dead-letter topic ``<forwarder>-dead-letter`` (kept
7 days by the pull subscription ``<forwarder>-dead-letter-hold``, listed and replayed by the admin
CLI ``deadletters``), recorded in the delivery log with status ``dead_lettered`` and the reason,
and logged at WARNING. The dead letter carries the event's bytes and attributes unchanged, plus:

- ``deadLetterReason``: one of REASONS;
- ``deadLetterDetail``: what happened, for people (the last error, the partner's state ...);
- ``deadLetterSource``: the forwarder that held it;
- ``destinationId``: the destination it was held for, absent when the whole partner was;
- ``deliveryLogEntry``: the id of its delivery-log entry (``deliveries/<id>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from shared.forwarding.message import DESTINATION_ATTRIBUTE
from shared.platform.dead_letters import (
    DETAIL_ATTRIBUTE,
    MALFORMED,
    REASON_ATTRIBUTE,
    SOURCE_ATTRIBUTE,
    UNDELIVERABLE_VALUE,
    HoldNotPublished,
    hold_attributes,
)
from shared.platform.publisher import EventPublisher, OutgoingMessage

ENTRY_ATTRIBUTE = "deliveryLogEntry"
HOLD_ATTRIBUTES = (REASON_ATTRIBUTE, DETAIL_ATTRIBUTE, SOURCE_ATTRIBUTE, ENTRY_ATTRIBUTE)

# The partner is unknown: replay once it is registered.
NO_PARTNER = "no_partner"
# The partner has no destination at all.
NO_DESTINATIONS = "no_destinations"
# The partner is disabled (paused): `partners enable` replays what was held.
PARTNER_DISABLED = "partner_disabled"
# The partner was deleted (`partners delete`).
PARTNER_DELETED = "partner_deleted"
# A retry was due for a destination the partner no longer has (or that no longer takes the type).
DESTINATION_REMOVED = "destination_removed"
# Another event with different content already used this eventId at this destination.
EVENT_ID_CONFLICT = "event_id_conflict"
# UNDELIVERABLE_VALUE (shared.platform.dead_letters): the destination can never hold the event as it is.
# Every attempt of the retry policy failed (or Pub/Sub's own dead-lettering took it).
MAX_ATTEMPTS = "max_attempts"
# MALFORMED (shared.platform.dead_letters): not an event at all (not JSON, no eventId), kept for inspection.

REASONS = (NO_PARTNER, NO_DESTINATIONS, PARTNER_DISABLED, PARTNER_DELETED, DESTINATION_REMOVED,
           EVENT_ID_CONFLICT, UNDELIVERABLE_VALUE, MAX_ATTEMPTS, MALFORMED)
# Holds that concern the partner as a whole: one per event and forwarder, not per destination.
PARTNER_REASONS = (NO_PARTNER, NO_DESTINATIONS, PARTNER_DISABLED, PARTNER_DELETED)


@dataclass(frozen=True)
class Hold:
    reason: str
    detail: str
    destination_id: str | None = None

    def attributes(self, original: Mapping[str, str], source: str, entry_id: str | None) -> dict[str, str]:
        attributes = hold_attributes(original, self.reason, self.detail, source,
                                     replaced=(ENTRY_ATTRIBUTE, DESTINATION_ATTRIBUTE))
        if self.destination_id is not None:
            attributes[DESTINATION_ATTRIBUTE] = self.destination_id
        if entry_id is not None:
            attributes[ENTRY_ATTRIBUTE] = entry_id
        return attributes


DeadLetterSink = Callable[[OutgoingMessage], None]


def dead_letter_sink(publisher: EventPublisher) -> DeadLetterSink:
    """Publishes one dead letter and returns once Pub/Sub confirmed it."""

    def publish(message: OutgoingMessage) -> None:
        outcome = publisher.publish_many([message])[0]
        if not outcome.published:
            raise HoldNotPublished(f"could not publish to the dead-letter topic: {outcome.error}")

    return publish
