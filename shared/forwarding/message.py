"""An event as a forwarder receives it: one Pub/Sub message from topic ``events``.

functions-framework turns a raw Pub/Sub push body into a CloudEvent whose data is
``{"message": {"data": <base64>, "attributes": {...}, "messageId": ..., "publishTime": ...}}``.
The message data is the event as UTF-8 JSON, forwarded byte for byte; the attributes carry
eventId, eventType, whitelabel and flowId (see README, "Publishing").
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

from shared.events.message import partner_of

# Set by `deadletters replay`: the replayed message is meant for this forwarder only.
REPLAY_FOR_ATTRIBUTE = "replayFor"


class MalformedEvent(ValueError):
    """The message can never be delivered (not a JSON event, no eventId ...)."""


@dataclass(frozen=True)
class PubSubMessage:
    data: bytes
    attributes: Mapping[str, str] = field(default_factory=dict)
    message_id: str = ""

    @classmethod
    def from_cloud_event_data(cls, data: Any) -> "PubSubMessage":
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, dict):
            raise MalformedEvent("the CloudEvent carries no Pub/Sub message")
        try:
            raw = base64.b64decode(message.get("data") or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise MalformedEvent("the message data is not base64") from None
        attributes = message.get("attributes") or {}
        return cls(raw, {str(k): str(v) for k, v in attributes.items()}, str(message.get("messageId", "")))


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

    @property
    def replay_for(self) -> str | None:
        return self.message.attributes.get(REPLAY_FOR_ATTRIBUTE)

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
        if "/" in event_id or "/" in event_type:
            raise MalformedEvent("eventId and eventType must not contain '/'")
        # The body is the canonical record; the attribute is only a fallback.
        whitelabel = partner_of(body) or message.attributes.get("whitelabel")
        return cls(message.data, body, event_id, event_type, parse_event_date(body.get("eventDate")),
                   whitelabel, message.attributes.get("flowId"), message)


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
