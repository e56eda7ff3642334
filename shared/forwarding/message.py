"""An event as a forwarder receives it: one Pub/Sub message from topic ``events``.

functions-framework turns a raw Pub/Sub push body into a CloudEvent whose data is
``{"message": {"data": <base64>, "attributes": {...}, "messageId": ..., "publishTime": ...}}``.
The message data is the event as UTF-8 JSON, forwarded byte for byte; the attributes carry
eventId, eventType, whitelabel and flowId (see README, "Publishing"), and, on an operator's replay
or a retry the re-driver makes, the routing attributes below.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Mapping

from shared.events.message import partner_of

# Set on a re-drive (a scheduled retry) and on a replay (`deadletters replay`): the message is
# meant for this forwarder only; the others acknowledge it at once.
REPLAY_FOR_ATTRIBUTE = "replayFor"
# With replayFor: only this destination of the partner is attempted.
DESTINATION_ATTRIBUTE = "destinationId"
# Set by the re-driver: this message is the scheduled retry of a delivery (not an operator's replay).
REDRIVE_ATTRIBUTE = "redrive"
# Set by `deadletters replay --fresh-event-ids` on an event that reached us under a reused eventId.
ORIGINAL_EVENT_ID_ATTRIBUTE = "originalEventId"
ROUTING_ATTRIBUTES = (REPLAY_FOR_ATTRIBUTE, DESTINATION_ATTRIBUTE, REDRIVE_ATTRIBUTE)


class MalformedEvent(ValueError):
    """The message can never be delivered (not a JSON event, no eventId ...)."""


@dataclass(frozen=True)
class PubSubMessage:
    data: bytes
    attributes: Mapping[str, str] = field(default_factory=dict)
    message_id: str = ""
    # The push's ``deliveryAttempt``: Pub/Sub sends it when the subscription dead-letters (the
    # emulator does not); functions-framework drops it, so the wiring reads it from the request.
    delivery_attempt: int | None = None

    @classmethod
    def from_cloud_event_data(cls, data: Any, delivery_attempt: int | None = None) -> "PubSubMessage":
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, dict):
            raise MalformedEvent("the CloudEvent carries no Pub/Sub message")
        try:
            raw = base64.b64decode(message.get("data") or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise MalformedEvent("the message data is not base64") from None
        attributes = message.get("attributes") or {}
        return cls(raw, {str(k): str(v) for k, v in attributes.items()}, str(message.get("messageId", "")),
                   delivery_attempt)


@dataclass(frozen=True)
class ForwardedEvent:
    raw: bytes  # exactly what ingest published: what partners receive
    body: dict[str, Any]
    event_id: str
    event_type: str
    event_date: datetime | None
    whitelabel: str | None
    flow_id: str | None
    message: PubSubMessage

    @cached_property
    def content_hash(self) -> str:
        """SHA-256 of the event's canonical JSON: what tells a duplicate from another event that
        reuses its eventId. Computed when first needed: a forwarder that owes an event nothing,
        as two of the three do for most events, never hashes it (``body`` is never modified)."""
        return content_hash(self.body)

    @property
    def replay_for(self) -> str | None:
        return self.message.attributes.get(REPLAY_FOR_ATTRIBUTE)

    @property
    def destination_id(self) -> str | None:
        return self.message.attributes.get(DESTINATION_ATTRIBUTE) if self.replay_for else None

    @property
    def is_redrive(self) -> bool:
        return self.replay_for is not None and REDRIVE_ATTRIBUTE in self.message.attributes

    @property
    def is_operator_replay(self) -> bool:
        return self.replay_for is not None and not self.is_redrive

    def original_attributes(self) -> dict[str, str]:
        """The attributes the event was published with, without the platform's routing ones."""
        return {k: v for k, v in self.message.attributes.items() if k not in ROUTING_ATTRIBUTES}

    @classmethod
    def from_message(cls, message: PubSubMessage) -> "ForwardedEvent":
        try:
            body = json.loads(message.data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise MalformedEvent("the message data is not UTF-8 JSON") from None
        if not isinstance(body, dict):
            raise MalformedEvent("the message data is not a JSON object")
        event_id, event_type = body.get("eventId"), body.get("eventType")
        if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str) or not event_type:
            raise MalformedEvent("the event has no eventId or eventType")
        if any(c in event_id for c in "/~:") or "/" in event_type:
            raise MalformedEvent("eventId must not contain '/', '~' or ':', eventType not '/'")
        # The body is the canonical record; the attribute is only a fallback.
        whitelabel = partner_of(body) or message.attributes.get("whitelabel")
        return cls(message.data, body, event_id, event_type, parse_event_date(body.get("eventDate")),
                   whitelabel, message.attributes.get("flowId"), message)


def content_hash(body: Mapping[str, Any]) -> str:
    """SHA-256 of the event as canonical JSON (keys sorted, compact, UTF-8): the same event sent
    again with its keys in another order or other spacing is still the same event."""
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def fresh_event_id(event_id: str, event_content_hash: str) -> str:
    """The eventId an event held for ``event_id_conflict`` gets when an operator replays it with
    fresh ids: a UUIDv4 derived from its original eventId and content, so every forwarder that
    held it gives it the same new id, and replaying it twice delivers it once."""
    digest = hashlib.sha256(f"{event_id}:{event_content_hash}".encode("utf-8")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def parse_event_date(value: Any) -> datetime | None:
    """eventDate as an aware UTC datetime (ISO 8601, 'Z' or an offset), or None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)
